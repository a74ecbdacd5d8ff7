"""A headless Chromium driven over the DevTools protocol, with nothing but the standard library.

Chromium's --remote-debugging-pipe speaks the DevTools protocol over two file descriptors:
it reads commands from fd 3 and writes replies and events to fd 4, each message one JSON
object followed by a NUL byte (what Puppeteer's `pipe: true` uses). No websocket library, no
driver binary, no browser download: only Debian's `chromium` package.

    with Browser.launch() as browser:
        page = browser.new_page(width=1400, height=1000)
        page.goto("file:///tmp/attention.html")
        page.evaluate("document.title")
        page.click(120, 300)
        png_bytes = page.screenshot()
        page.console_errors()     # console.error / uncaught exceptions / failed loads
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

# The flags the project's browser tests run with: headless, no sandbox (containers run as
# root), and nothing that reaches the network on its own (field trials, component updates,
# sync, safe browsing lists, QUIC probes).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
]


def find_chromium():
    """The browser to run: $ATTEND_CHROMIUM when set (and then only it), else Debian's
    chromium; None when there is none."""
    chosen = os.environ.get("ATTEND_CHROMIUM")
    candidates = [chosen] if chosen else ["/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class CdpError(RuntimeError):
    pass


class Browser:
    def __init__(self, proc, to_browser, from_browser, profile, log_path):
        self.proc = proc
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.profile = profile
        self.log_path = log_path
        self.buffer = b""
        self.next_id = 0
        self.events = []  # every event received, in order: (sessionId, method, params)

    @staticmethod
    def launch(executable=None, log_path=None, timeout=60):
        executable = executable or find_chromium()
        if not executable:
            raise CdpError("chromium is not installed (Debian package `chromium`; scripts/setup.sh installs it)")
        profile = tempfile.mkdtemp(prefix="attend-chromium-profile-")  # a fresh user data dir each run
        commands_r, commands_w = os.pipe()  # we write, chromium reads on fd 3
        replies_r, replies_w = os.pipe()  # chromium writes on fd 4, we read

        def child_fds():
            # Move both ends out of the way first, so placing one on 3 or 4 cannot clobber the other.
            a = fcntl.fcntl(commands_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(replies_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        log = open(log_path or os.devnull, "wb")
        proc = subprocess.Popen(
            [executable, *FLAGS, "--user-data-dir=" + profile, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            pass_fds=(3, 4), preexec_fn=child_fds)
        log.close()
        os.close(commands_r)
        os.close(replies_w)
        browser = Browser(proc, commands_w, replies_r, profile, log_path)
        browser.call("Browser.getVersion", timeout=timeout)  # the pipe is up
        return browser

    # ---- messages ----------------------------------------------------------------------------

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self.to_browser, data)
            data = data[written:]
        return self.next_id

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("timed out waiting for chromium")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 20)
                if not chunk:
                    raise CdpError("chromium closed the DevTools pipe (crashed?); see " + str(self.log_path))
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise CdpError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append((message.get("sessionId"), message["method"], message.get("params", {})))

    def wait_event(self, method, session=None, timeout=30, since=0):
        """The first event `method` (of `session`) at index >= since, reading until it comes."""
        deadline = time.monotonic() + timeout
        index = since
        while True:
            while index < len(self.events):
                s, m, p = self.events[index]
                index += 1
                if m == method and (session is None or s == session):
                    return p
            message = self._read_message(deadline)
            if "method" in message:
                self.events.append((message.get("sessionId"), message["method"], message.get("params", {})))

    def pump(self, seconds):
        """Reads events for a while (lets late console messages arrive)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                message = self._read_message(deadline)
                if "method" in message:
                    self.events.append((message.get("sessionId"), message["method"], message.get("params", {})))
        except CdpError as e:
            if "timed out" not in str(e):
                raise

    # ---- pages -------------------------------------------------------------------------------

    def new_page(self, width=1400, height=1000):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            page.call(domain + ".enable")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    def call(self, method, params=None, timeout=30):
        return self.browser.call(method, params, self.session, timeout)

    def goto(self, url, timeout=30):
        since = len(self.browser.events)
        self.call("Page.navigate", {"url": url})
        self.browser.wait_event("Page.loadEventFired", self.session, timeout, since)

    def evaluate(self, expression, timeout=30):
        """The value of a JavaScript expression (awaited when it is a promise); raises on a throw."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"JavaScript threw: {text}\n  in: {expression[:200]}")
        return result["result"].get("value")

    def mouse(self, kind, x, y, button="none", clicks=0):
        self.call("Input.dispatchMouseEvent",
                  {"type": kind, "x": x, "y": y, "button": button, "clickCount": clicks})

    def move(self, x, y):
        self.mouse("mouseMoved", x, y)

    def click(self, x, y):
        """What a person does: move there, press, release."""
        self.move(x, y)
        self.mouse("mousePressed", x, y, "left", 1)
        self.mouse("mouseReleased", x, y, "left", 1)

    def screenshot(self):
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        return base64.b64decode(data)

    def console_errors(self):
        """Everything of this page that a person would see as an error in the DevTools console."""
        errors = []
        for session, method, params in self.browser.events:
            if session != self.session:
                continue
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append("console.%s: %s" % (params["type"], " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", []))))
            elif method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                errors.append("uncaught: " + str(d.get("exception", {}).get("description") or d.get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                e = params["entry"]
                errors.append("log: %s %s" % (e.get("text"), e.get("url", "")))
        return errors
