#!/usr/bin/env python3
"""bench/serve_load.py — load on `attend serve`: requests/s and aggregate generated tokens/s
for 1, 4 and 16 concurrent clients (each sends its requests one after another).

  /usr/bin/python3 bench/serve_load.py --attend build/attend --model ../shared/data/stories260K/stories260K.bin

Every request asks for --max-tokens tokens, sampled with its own seed (temperature 0.8, no
stop strings; a model's EOS can still end one early, so tokens are counted from `usage`)."""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "serve"))
from server_process import Server  # noqa: E402

PROMPTS = ["Once upon a time", "Lily and Ben went to the park", "The little dog", "One day, a bird"]


def client(srv, n, first_seed, max_tokens, out):
    conn = srv.connection()
    for i in range(n):
        body = {"prompt": PROMPTS[i % len(PROMPTS)], "max_tokens": max_tokens, "temperature": 0.8,
                "seed": first_seed + i}
        conn.request("POST", "/v1/completions", body=json.dumps(body).encode(), headers=srv.headers())
        res = conn.getresponse()
        data = json.loads(res.read())
        assert res.status == 200, data
        out.append(data["usage"]["completion_tokens"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--attend", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--clients", default="1,4,16")
    p.add_argument("--requests", type=int, default=8, help="requests per client")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    srv = Server(args.attend, args.model, "--parallel", str(max(counts)), "--threads", str(args.threads))
    rows = []
    try:
        client(srv, 2, 0, 8, [])  # warm up
        for c in counts:
            tokens = []
            threads = [threading.Thread(target=client, args=(srv, args.requests, 1000 * k, args.max_tokens, tokens))
                       for k in range(c)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            s = time.perf_counter() - start
            rows.append((c, len(tokens), s, len(tokens) / s, sum(tokens) / s))
    finally:
        srv.stop()
    print(f"{'clients':>7} {'requests':>8} {'seconds':>8} {'requests/s':>10} {'tokens/s':>10}")
    for c, n, s, rps, tps in rows:
        print(f"{c:>7} {n:>8} {s:>8.2f} {rps:>10.1f} {tps:>10.0f}")
    if rows[0][0] == 1:
        print(f"aggregate tokens/s at {rows[-1][0]} clients / 1 client: {rows[-1][4] / rows[0][4]:.1f}x")


if __name__ == "__main__":
    main()
