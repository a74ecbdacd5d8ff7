"""PyTorch 1.13 side of `attend bench` (tools/attend/bench*.cpp): the same workloads, in
plain torch, timed in this process and reported back one JSON line per request.

`attend bench` starts one of these per thread count, with that count in --threads and in
the child's own environment (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, LD_LIBRARY_PATH to
Debian's OpenMP OpenBLAS when installed; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed),
so torch gets its best settings without touching anyone else's. Protocol (stdin/stdout):

  -> (first line, unasked)  {"ready": true, "torch": "1.13.1", "threads": n, "blas": "..."}
  <- {"op": "decode" | "prefill" | "train" | "attention", "warmup": bool, "min_time": s,
      "long_call": s, ...}
  -> {"seconds": s, "calls": n, ...}   or   {"error": "..."}
  <- {"op": "quit"} or end of input: exit

Shapes and what is timed mirror the attend side (see tools/attend/bench_workloads.cpp):
  decode     GPT-2 with its own preallocated KV cache, greedy; a 16-token prompt step gives
             the first token (prompt_seconds), then new_tokens − 1 single-token steps (seconds)
  prefill    T tokens through the blocks and ln_f, logits for the last position only
  train      nanoGPT's step: forward, cross-entropy, backward, clip 1.0, AdamW(0.9, 0.99, wd 0.1);
             with "autocast": true the forward runs under torch.autocast("cpu", bfloat16)
  attention  softmax(QKᵀ/√D + mask) V, forward or forward+backward (torch 1.13 has no fused one)
Usable by hand:  echo '{"op":"prefill","T":8,...}' | /usr/bin/python3 bench/bench_torch.py --threads 1
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_threads import set_threads  # torch and its OpenBLAS, both


def blas_description():
    """Which BLAS this process really loaded: the mapped files, and OpenBLAS's own words."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "blas" in os.path.basename(path) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    words = []
    try:
        import ctypes
        openblas = ctypes.CDLL("libopenblas.so.0")  # the copy already loaded, if any
        openblas.openblas_get_config.restype = ctypes.c_char_p
        openblas.openblas_get_corename.restype = ctypes.c_char_p
        parallel = {0: "sequential", 1: "pthreads", 2: "OpenMP"}.get(openblas.openblas_get_parallel(), "?")
        words.append(f"{openblas.openblas_get_config().decode()} ({parallel}, core {openblas.openblas_get_corename().decode()},"
                     f" {openblas.openblas_get_num_threads()} threads)")
    except (OSError, AttributeError) as e:
        words.append(f"not OpenBLAS ({e})")
    return "; ".join(words + [" ".join(paths) or "no BLAS file mapped"])


# ---- GPT-2 (pre-norm, GELU-tanh, learned positions, tied head), as attend's gpt2_small ----
class Block(nn.Module):
    def __init__(self, E, H):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(E), nn.LayerNorm(E)
        self.c_attn, self.c_proj = nn.Linear(E, 3 * E), nn.Linear(E, E)
        self.fc, self.proj = nn.Linear(E, 4 * E), nn.Linear(4 * E, E)
        self.H = H

    def forward(self, x, cache=None, pos=0):
        # x (B, T, E); cache: (k, v) each (B, H, capacity, D), written at [pos, pos + T)
        B, T, E = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(E, dim=2)
        q, k, v = (t.view(B, T, self.H, E // self.H).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            cache[0][:, :, pos:pos + T] = k
            cache[1][:, :, pos:pos + T] = v
            k, v = cache[0][:, :, :pos + T], cache[1][:, :, :pos + T]
        w = (q @ k.transpose(-1, -2)) / math.sqrt(E // self.H)
        if T > 1:  # query i at position pos + i sees keys ≤ pos + i; a single new token sees all
            Tk = k.shape[2]
            w = w.masked_fill(torch.ones(T, Tk, dtype=torch.bool).triu(Tk - T + 1), float("-inf"))
        y = (torch.softmax(w, dim=-1) @ v).transpose(1, 2).reshape(B, T, E)
        x = x + self.c_proj(y)
        return x + self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, context, E, L, H):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, E), nn.Embedding(context, E)
        self.h = nn.ModuleList([Block(E, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(E)
        self.H = H
        with torch.no_grad():  # GPT-2's init: values do not change the timing, but keep them sane
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    m.weight.normal_(0.0, 0.02)
                if isinstance(m, nn.Linear):
                    m.bias.zero_()

    def hidden(self, ids, caches=None, pos=0):
        x = self.wte(ids) + self.wpe(torch.arange(pos, pos + ids.shape[1]))[None]
        for i, block in enumerate(self.h):
            x = block(x, caches[i] if caches is not None else None, pos)
        return self.ln_f(x)

    def forward(self, ids):
        return self.hidden(ids) @ self.wte.weight.t()

    def new_caches(self, B, capacity):
        E = self.wte.weight.shape[1]
        shape = (B, self.H, capacity, E // self.H)
        return [(torch.empty(shape), torch.empty(shape)) for _ in self.h]


_models = {}


def model_for(r, train=False):
    key = (train, r["layers"], r["d"], r["heads"], r["vocab"], r["context"])
    if key not in _models:
        torch.manual_seed(0)
        m = GPT(r["vocab"], r["context"], r["d"], r["layers"], r["heads"])
        if train:
            decay = [p for n, p in m.named_parameters() if p.dim() >= 2 and not n.startswith("w")]
            rest = [p for n, p in m.named_parameters() if not (p.dim() >= 2 and not n.startswith("w"))]
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                    lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
            _models[key] = (m.train(), opt)
        else:
            _models[key] = m.eval()
    return _models[key]


def timed(fn, warmup, min_time, long_call):
    """Per-call seconds: fn repeated until min_time has passed (at least once), after one
    untimed call when warmup. A warm-up call of long_call seconds or more is the sample
    itself (attend bench's kLongCallSeconds, tools/attend/bench.hpp: a call that long is not
    moved by first-call costs)."""
    if warmup:
        start = time.perf_counter()
        fn()
        first = time.perf_counter() - start
        if first >= long_call:
            return first, 1
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls, calls


def decode(r):
    model = model_for(r)
    g = torch.Generator().manual_seed(r.get("seed", 0))
    prompt = torch.randint(r["vocab"], (1, r["prompt"]), generator=g)

    def run():
        with torch.no_grad():
            caches = model.new_caches(1, r["prompt"] + r["new_tokens"])
            t0 = time.perf_counter()
            h = model.hidden(prompt, caches, 0)
            token = (h[:, -1] @ model.wte.weight.t()).argmax(-1, keepdim=True)
            t1 = time.perf_counter()
            pos = r["prompt"]
            for _ in range(r["new_tokens"] - 1):
                h = model.hidden(token, caches, pos)
                token = (h[:, -1] @ model.wte.weight.t()).argmax(-1, keepdim=True)
                pos += 1
            t2 = time.perf_counter()
        return t1 - t0, t2 - t1

    if r["warmup"]:
        run()
    prompt_s, decode_s = run()
    return {"seconds": decode_s, "calls": 1, "prompt_seconds": prompt_s, "tokens": r["new_tokens"] - 1}


def prefill(r):
    model = model_for(r)
    ids = torch.randint(r["vocab"], (1, r["T"]), generator=torch.Generator().manual_seed(0))

    def run():
        with torch.no_grad():
            return model.hidden(ids)[:, -1:] @ model.wte.weight.t()  # (1, 1, V): the last position only

    s, calls = timed(run, r["warmup"], r["min_time"], r.get("long_call", math.inf))
    return {"seconds": s, "calls": calls}


def train(r):
    model, opt = model_for(r, train=True)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(r["vocab"], (r["batch"], r["context"]), generator=g)
    y = torch.randint(r["vocab"], (r["batch"], r["context"]), generator=g)

    # "autocast": PyTorch's own bf16 mixed precision, the counterpart of attend's
    # `train --precision bf16` (fp32 weights and optimizer; the autocast ops, matmuls and
    # linears among them, in bf16; the loss taken in fp32).
    autocast = bool(r.get("autocast", False))

    def run():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = model(x)
        loss = F.cross_entropy(logits.float().view(-1, r["vocab"]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    s, calls = timed(run, r["warmup"], r["min_time"], r.get("long_call", math.inf))
    return {"seconds": s, "calls": calls}


def attention(r):
    T, H, D, causal, backward = r["T"], r["heads"], r["head_dim"], r["causal"], r["backward"]
    g = torch.Generator().manual_seed(0)
    q, k, v, dout = (torch.randn(1, H, T, D, generator=g).requires_grad_(backward) for _ in range(4))
    mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None

    def run():
        with torch.set_grad_enabled(backward):
            s = q @ k.transpose(-1, -2) / math.sqrt(D)
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))
            out = torch.softmax(s, dim=-1) @ v
            if backward:
                out.backward(dout)
                q.grad = k.grad = v.grad = None

    s, calls = timed(run, r["warmup"], r["min_time"], r.get("long_call", math.inf))
    return {"seconds": s, "calls": calls}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    set_threads(args.threads)
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "blas": blas_description()}), flush=True)
    ops = {"decode": decode, "prefill": prefill, "train": train, "attention": attention}
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "quit":
            break
        try:
            reply = ops[request["op"]](request)
        except Exception as e:  # the C++ side prints the reason instead of a number
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
