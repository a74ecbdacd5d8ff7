"""Runs bench/attention.cpp (attend) and bench/attention_torch.py (PyTorch 1.13) in one go
and prints a markdown table of milliseconds and ratios (torch / attend-fused: > 1 means
attend is faster).

    /usr/bin/python3 bench/run_attention.py --build build [--T 512 2048 8192] [--threads 1 2]
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(here, "..", "build"))
    parser.add_argument("--T", type=int, nargs="+", default=[512, 2048, 8192])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--min-time", type=float, default=1.0)
    args = parser.parse_args()

    ours = {}
    T_filter = "|".join(str(t) for t in args.T)
    th_filter = "|".join(str(t) for t in args.threads)
    cmd = [os.path.join(args.build, "bench", "attention"), "--benchmark_format=json",
           f"--benchmark_min_time={args.min_time}",
           f"--benchmark_filter=BM_Attention/T:({T_filter})/threads:({th_filter})/"]
    report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    mha_cmd = cmd[:-1] + [f"--benchmark_filter=BM_MultiHeadAttention/T:({T_filter})/threads:({th_filter})/"]
    mha_report = json.loads(subprocess.run(mha_cmd, check=True, capture_output=True, text=True).stdout)
    for b in mha_report["benchmarks"]:
        parts = dict(p.split(":") for p in b["name"].split("/")[1:] if ":" in p)
        ours[((int(parts["T"]), int(parts["threads"]), parts["backward"] == "1", False), "mha")] = b["real_time"]
    for b in report["benchmarks"]:
        parts = dict(p.split(":") for p in b["name"].split("/")[1:] if ":" in p)
        key = (int(parts["T"]), int(parts["threads"]), parts["backward"] == "1", parts["causal"] == "1")
        ours[(key, "fused" if parts["fused"] == "1" else "reference")] = b["real_time"]

    torch_cmd = ["/usr/bin/python3", os.path.join(here, "attention_torch.py"), "--min-time", str(args.min_time),
                 "--T", *map(str, args.T), "--threads", *map(str, args.threads)]
    theirs = {}
    for line in subprocess.run(torch_cmd, check=True, capture_output=True, text=True).stdout.splitlines():
        r = json.loads(line)
        theirs[((r["T"], r["threads"], r["backward"], r["causal"]), r["impl"])] = r["ms"]

    print("| mask | pass | threads | T | attend fused ms | attend reference ms | torch naive ms |"
          " reference / fused | torch naive / fused | attend MHA ms | torch MHA ms | torch MHA / attend MHA |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for causal in (False, True):
        for backward in (False, True):
            for threads in args.threads:
                for T in args.T:
                    key = (T, threads, backward, causal)
                    fused, ref = ours.get((key, "fused")), ours.get((key, "reference"))
                    naive, mha = theirs.get((key, "torch_naive")), theirs.get((key, "torch_mha"))
                    our_mha = ours.get((key, "mha"))
                    fmt = lambda x: f"{x:.1f}" if x is not None else "–"
                    ratio = lambda a, b: f"{a / b:.2f}×" if a and b else "–"
                    print(f"| {'causal' if causal else 'none'} | {'fwd+bwd' if backward else 'fwd'} | {threads} | {T} |"
                          f" {fmt(fused)} | {fmt(ref)} | {fmt(naive)} | {ratio(ref, fused)} | {ratio(naive, fused)} |"
                          f" {fmt(our_mha)} | {fmt(mha)} | {ratio(mha, our_mha)} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
