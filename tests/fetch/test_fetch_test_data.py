#!/usr/bin/python3
"""scripts/fetch-test-data.sh against a mirror on 127.0.0.1, offline.

    test_fetch_test_data.py --script scripts/fetch-test-data.sh --data ../shared/data --work build/fetch_test_data

The mirror is laid out as the data folder is (what --base-url expects): each file the manifest
(scripts/test-data.sha256) downloads, linked from --data, served by an HTTP server on a free
port of 127.0.0.1 in this process and stopped at the end. Checked:
  1. into an empty folder: every listed file arrives (downloads, repository files and the
     chat-template renderings the script makes), each equal to --data's copy, nothing else left;
  2. again: every file is already there, nothing is requested;
  3. with the mirror's stories260K/tok512.bin corrupted (that file missing in the folder) and
     the folder's tinyshakespeare/input.txt damaged by hand, the mirror named through
     $ATTEND_TEST_DATA_URL this time: exit 1, one line naming tok512.bin with both sha256s, no
     tok512.bin and no temporary file left, input.txt fetched again and good;
  4. a mirror that lacks a file: exit 1, a line naming it.
Every run of the script is bounded (120 s, then its process group is killed).
"""

import argparse
import functools
import hashlib
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

FAILURES = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        FAILURES.append(what)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_manifest(path):
    """[(sha256, size, path, origin)] from scripts/test-data.sha256."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                sha, size, rel, origin = line.split()
                entries.append((sha, int(size), rel, origin))
    return entries


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests = []  # the paths asked for, in order

    def do_GET(self):
        QuietHandler.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


def run_script(script, args, env_extra, timeout=120):
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "attend_test_data_url", "attend_shared_data")}
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    env.update(env_extra)
    proc = subprocess.Popen(["bash", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        check(False, f"the script finished within {timeout} s")
    print(out + err, end="", flush=True)
    return proc.returncode, out, err


def leftovers(folder):
    """Temporary files or folders of the script (*.part) anywhere under folder."""
    found = []
    for root, dirs, files in os.walk(folder):
        found += [os.path.join(root, n) for n in dirs + files if n.endswith(".part")]
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--data", required=True, help="the shared data folder the mirror is made from")
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    script = os.path.abspath(args.script)
    manifest = read_manifest(os.path.join(os.path.dirname(script), "test-data.sha256"))
    check(len(manifest) > 100, f"the manifest lists the data folder's files ({len(manifest)})")

    shutil.rmtree(args.work, ignore_errors=True)
    mirror, dest = os.path.join(args.work, "mirror"), os.path.join(args.work, "dest")
    downloaded = [e for e in manifest if e[3].startswith(("https://", "http://"))]
    for _, _, rel, _ in downloaded:
        os.makedirs(os.path.dirname(os.path.join(mirror, rel)), exist_ok=True)
        source = os.path.join(os.path.abspath(args.data), rel)
        if not os.path.isfile(source):
            sys.exit(f"{source}: missing (the mirror is made from --data)")
        os.symlink(source, os.path.join(mirror, rel))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=mirror))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        # 1. everything, into an empty folder
        rc, out, err = run_script(script, ["--base-url", base, dest], {})
        check(rc == 0, "an empty folder: exit 0")
        check(f"{len(manifest)} fetched, 0 already there, 0 failed" in out, "an empty folder: every file fetched")
        wrong = [rel for sha, _, rel, _ in manifest
                 if not os.path.isfile(os.path.join(dest, rel)) or sha256(os.path.join(dest, rel)) != sha]
        check(not wrong, f"every file has its listed sha256 {wrong[:3]}")
        differ = [rel for _, _, rel, _ in manifest
                  if open(os.path.join(dest, rel), "rb").read() != open(os.path.join(args.data, rel), "rb").read()]
        check(not differ, f"every file equals the data folder's {differ[:3]}")
        check(len(QuietHandler.requests) == len(downloaded), f"one request a downloaded file ({len(QuietHandler.requests)})")
        check(not leftovers(dest), f"no temporary files left {leftovers(dest)[:3]}")

        # 2. again: nothing to do
        QuietHandler.requests.clear()
        rc, out, err = run_script(script, ["--base-url", base, dest], {})
        check(rc == 0 and f"0 fetched, {len(manifest)} already there, 0 failed" in out, "a second run: everything there")
        check(not QuietHandler.requests, f"a second run asks for nothing ({QuietHandler.requests[:3]})")

        # 3. a corrupted file on the mirror, a damaged one in the folder
        bad_rel, good_rel = "stories260K/tok512.bin", "tinyshakespeare/input.txt"
        bad_sha = next(e[0] for e in manifest if e[2] == bad_rel)
        with open(os.path.join(args.data, bad_rel), "rb") as f:
            corrupted = bytearray(f.read())
        corrupted[100] ^= 0x01  # one bit, same size
        os.remove(os.path.join(mirror, bad_rel))
        with open(os.path.join(mirror, bad_rel), "wb") as f:
            f.write(corrupted)
        corrupted_sha = hashlib.sha256(corrupted).hexdigest()
        os.remove(os.path.join(dest, bad_rel))
        with open(os.path.join(dest, good_rel), "r+b") as f:
            f.write(b"Second Citizen")
        rc, out, err = run_script(script, [dest], {"ATTEND_TEST_DATA_URL": base})
        check(rc == 1, f"a corrupted download: exit 1 (got {rc})")
        lines = [l for l in err.splitlines() if bad_rel in l]
        check(len(lines) == 1 and bad_sha in lines[0] and corrupted_sha in lines[0],
              "one line names the file, the expected and the actual sha256")
        check(not os.path.exists(os.path.join(dest, bad_rel)), "the corrupted file is not left in the folder")
        check(not leftovers(dest), f"no temporary files left {leftovers(dest)[:3]}")
        good_sha = next(e[0] for e in manifest if e[2] == good_rel)
        check(sha256(os.path.join(dest, good_rel)) == good_sha, "a damaged file in the folder is fetched again")
        check("1 failed" in out, "the summary counts one failure")

        # 4. a file the mirror lacks
        os.remove(os.path.join(mirror, bad_rel))
        rc, out, err = run_script(script, ["--base-url", base, dest], {})
        check(rc == 1 and re.search(re.escape(bad_rel) + r": download failed from " + re.escape(base), err),
              "a missing file on the mirror: exit 1, a line naming it")
        check(not os.path.exists(os.path.join(dest, bad_rel)) and not leftovers(dest), "and nothing left behind")
    finally:
        server.shutdown()
        server.server_close()

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", flush=True)
        return 1
    print("fetch-test-data: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
