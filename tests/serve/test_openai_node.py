#!/usr/bin/env python3
"""tests/serve/test_openai_node.py — run tests/serve/node/test_openai.mjs (the official
`openai` npm client) against `attend serve`. Its dependencies are installed from the committed
package-lock.json with `npm ci` into a folder of the build tree (the npm cache makes a rerun
offline); the expected texts come from `attend generate`."""
import argparse
import os
import shutil
import subprocess
import sys

from server_process import Server

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser()
p.add_argument("--attend", required=True)
p.add_argument("--model", required=True)
p.add_argument("--work", required=True)
args = p.parse_args()

os.makedirs(args.work, exist_ok=True)
for f in ("package.json", "package-lock.json", "test_openai.mjs"):
    shutil.copy(os.path.join(here, "node", f), os.path.join(args.work, f))
subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"], cwd=args.work, check=True, timeout=300)


def generate(prompt, n):
    prime = subprocess.run([args.attend, "generate", "--model", args.model, "--prompt", prompt, "-n", "0"],
                           check=True, capture_output=True).stdout.decode()[:-1]
    out = subprocess.run([args.attend, "generate", "--model", args.model, "--prompt", prompt, "-n", str(n),
                          "--temperature", "0"], check=True, capture_output=True).stdout.decode()
    return out[len(prime):-1]


env = dict(os.environ,
           EXPECTED_COMPLETION=generate("Once upon a time", 40),
           EXPECTED_CHAT=generate("User: Tell me a story\nAssistant:", 30),
           API_KEY="node-test-key")
srv = Server(args.attend, args.model, "--parallel", "4", api_key="node-test-key")
try:
    env["BASE_URL"] = f"http://127.0.0.1:{srv.port}/v1"
    rc = subprocess.run(["node", "test_openai.mjs"], cwd=args.work, env=env, timeout=120).returncode
finally:
    code = srv.stop()
sys.exit(rc or code)
