"""PyTorch 1.13 side of the attention benchmark: naive softmax(QKᵀ/√d)V and
nn.MultiheadAttention, forward and forward+backward, at the shapes of bench/attention.cpp.
Prints one JSON object per line: {"impl", "T", "threads", "backward", "causal", "ms"}."""
import argparse
import json
import math
import time

import torch

from torch_threads import set_threads  # torch and its OpenBLAS, both


def time_ms(fn, min_time=1.0, min_reps=3):
    fn()  # warm-up
    reps, start = 0, time.perf_counter()
    best = float("inf")
    while reps < min_reps or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return best * 1e3


def naive(q, k, v, causal):
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--T", type=int, nargs="+", default=[512, 2048, 8192])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--min-time", type=float, default=1.0)
    args = parser.parse_args()
    H, D = 12, 64
    torch.manual_seed(0)
    for causal in (False, True):
        for backward in (False, True):
            for threads in args.threads:
                set_threads(threads)
                for T in args.T:
                    q, k, v, g = (torch.randn(1, H, T, D, requires_grad=backward) for _ in range(4))

                    def run():
                        out = naive(q, k, v, causal)
                        if backward:
                            out.backward(g)
                    ms = time_ms(run, args.min_time)
                    print(json.dumps({"impl": "torch_naive", "T": T, "threads": threads, "backward": backward,
                                      "causal": causal, "ms": ms}), flush=True)
                    if causal:
                        continue
                    mha = torch.nn.MultiheadAttention(H * D, H, batch_first=True)
                    x = torch.randn(1, T, H * D, requires_grad=backward)
                    gx = torch.randn(1, T, H * D)

                    def run_mha():
                        out, _ = mha(x, x, x, need_weights=False)
                        if backward:
                            out.backward(gx)
                    ms = time_ms(run_mha, args.min_time)
                    print(json.dumps({"impl": "torch_mha", "T": T, "threads": threads, "backward": backward,
                                      "causal": causal, "ms": ms}), flush=True)


if __name__ == "__main__":
    main()
