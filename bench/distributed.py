#!/usr/bin/env python3
"""bench/distributed.py — data-parallel `attend train` on this machine: the step time at 1
and 2 ranks (mpirun) on the same global batch, and the all-reduce's share of a step.

    /usr/bin/python3 bench/distributed.py --attend build/attend            # ~1 minute
    /usr/bin/python3 bench/distributed.py --attend build/attend --quick    # seconds: does it run

Each rank gets --threads threads (default 1), so 2 ranks use twice the cores of 1: the
speed-up is what data parallelism buys where cores (or machines) are added, and the
all-reduce share is what it costs. Times come from `attend train --profile` (rank 0's view):
a step is its data, forward, backward, all-reduce and optimizer phases; the all-reduce phase
includes packing the gradient buckets and waiting for the slowest rank. It also prints the
model's gradient bytes and what a ring all-reduce moves per rank per step: 2·(N−1)/N of
them (docs/distributed.md). Timings mean something only on an otherwise idle machine.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

STEP_PHASES = ("data", "forward", "backward", "all-reduce", "optimizer")


def run(attend, mpirun, ranks, threads, args, work):
    out = os.path.join(work, "np%d" % ranks)
    cmd = [attend, "train", "--out", out, "--overwrite", "--profile", "--threads", str(threads)] + args
    if ranks > 1:
        cmd = [mpirun, "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", str(ranks)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), r.stderr[-3000:]))
    phases = {}
    for line in r.stderr.splitlines():
        m = re.match(r"^  (\S[\w -]*?)\s+([\d.]+)\s+([\d.]+)%$", line)
        if m and m.group(1) in STEP_PHASES + ("setup", "eval", "checkpoint"):
            phases[m.group(1)] = float(m.group(2))
    grad = re.search(r"all-reduce of (\d+) gradient bytes", r.stderr)
    return phases, int(grad.group(1)) if grad else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attend", default="build/attend")
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--threads", type=int, default=1, help="threads per rank")
    ap.add_argument("--quick", action="store_true", help="a tiny model, a few steps: checks that it runs")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    a = ap.parse_args()
    if a.quick:
        model = dict(layers=2, heads=2, dim=64, block_size=32, batch_size=8, steps=6)
    else:  # a GPT of 3.2 M parameters: 12.8 MB of gradients a step
        model = dict(layers=4, heads=4, dim=256, block_size=128, batch_size=16, steps=30)
    work = tempfile.mkdtemp(prefix="attend-bench-distributed-")
    try:
        data = os.path.join(work, "text.txt")
        shakespeare = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                                   "tinyshakespeare", "input.txt")
        with open(data, "w") as f:
            if os.path.exists(shakespeare):
                f.write(open(shakespeare).read()[:200000])
            else:
                f.write(("the quick brown fox jumps over the lazy dog. " * 5000))
        args = ["--data", data, "--eval-every", "0", "--eval-batches", "1", "--warmup", "0"]  # not --quiet: rank 0 prints the gradient bytes
        for k, v in model.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        results = {}
        for ranks in (1, 2):
            phases, grad_bytes = run(a.attend, a.mpirun, ranks, a.threads, args, work)
            step_ms = sum(phases.get(p, 0.0) for p in STEP_PHASES) / model["steps"]
            share = phases.get("all-reduce", 0.0) / model["steps"] / step_ms if step_ms > 0 else 0.0
            results[ranks] = {"step_ms": step_ms, "allreduce_share": share, "gradient_bytes": grad_bytes,
                              "tokens_per_s": model["batch_size"] * model["block_size"] / (step_ms / 1000)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    grad = results[2]["gradient_bytes"]
    summary = {"model": model, "threads_per_rank": a.threads, "ranks": results,
               "speedup_2_ranks": results[1]["step_ms"] / results[2]["step_ms"],
               "ring_bytes_per_rank_per_step_2_ranks": grad * 2 * (2 - 1) / 2 if grad else None}
    if a.json:
        print(json.dumps(summary))
        return
    print("GPT %(layers)d layers, dim %(dim)d, block %(block_size)d, global batch %(batch_size)d, %(steps)d steps"
          % model + "; %d thread(s) per rank" % a.threads)
    print("%6s %10s %12s %16s" % ("ranks", "step ms", "tokens/s", "all-reduce share"))
    for ranks, r in results.items():
        print("%6d %10.1f %12.0f %15.1f%%" % (ranks, r["step_ms"], r["tokens_per_s"], 100 * r["allreduce_share"]))
    print("speed-up at 2 ranks: %.2fx" % summary["speedup_2_ranks"])
    if grad:
        print("gradients: %d bytes a step; a ring all-reduce moves 2·(N−1)/N of them per rank: %d bytes at N = 2"
              % (grad, summary["ring_bytes_per_rank_per_step_2_ranks"]))


if __name__ == "__main__":
    main()
