"""tests/serve/server_process.py — start `attend serve` on a free loopback port, talk to it.

Shared by the server tests and bench/serve_load.py (standard library only)."""
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time


class Server:
    """`attend serve --port 0 ...`; the port is read from its first line of stdout."""

    def __init__(self, attend, model, *args, api_key=None, timeout=60):
        cmd = [attend, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0", *args]
        if api_key:
            cmd += ["--api-key", api_key]
        self.api_key = api_key
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line[0] or "listening on" not in line[0]:
            self.proc.kill()
            raise RuntimeError(f"attend serve did not start: {line[0]!r} {self.proc.stderr.read()[-2000:]}")
        self.port = int(line[0].strip().rsplit(":", 1)[1])

    def headers(self, extra=None):
        h = {"Content-Type": "application/json"}
        if self.api_key:
            h["Authorization"] = "Bearer " + self.api_key
        h.update(extra or {})
        return h

    def connection(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, raw=None):
        """(status, parsed JSON or text, response headers) on a fresh connection."""
        conn = self.connection()
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=self.headers() if headers is None else headers)
        res = conn.getresponse()
        text = res.read().decode("utf-8")
        conn.close()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return res.status, parsed, dict(res.getheaders())

    def stream(self, path, body, on_event=None):
        """POST with stream: true; returns the list of parsed `data:` events (without [DONE])
        and whether [DONE] came."""
        conn = self.connection()
        conn.request("POST", path, body=json.dumps(dict(body, stream=True)).encode(), headers=self.headers())
        res = conn.getresponse()
        if res.status != 200:
            raise AssertionError(f"{path}: HTTP {res.status}: {res.read()[:500]!r}")
        events, done = [], False
        while True:
            line = res.fp.readline()
            if not line:
                break
            line = line.decode("utf-8").rstrip("\n")
            if not line.startswith("data: "):
                continue
            payload = line[len("data: "):]
            if payload == "[DONE]":
                done = True
                break
            events.append(json.loads(payload))
            if on_event and on_event(events[-1], res) is False:
                break
        conn.close()
        return events, done

    def health(self):
        return self.request("GET", "/health")[1]

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code (it must exit by itself within the timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"attend serve did not exit within {timeout} s of SIGTERM")


def completion_text(events, chat):
    """The text of a stream's chunks."""
    out = []
    for e in events:
        for c in e.get("choices", []):
            out.append(c["delta"].get("content") or "" if chat else c["text"])
    return "".join(out)
