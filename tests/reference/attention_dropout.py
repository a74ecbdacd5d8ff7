"""Attention with dropout on the weights, in PyTorch, with attend's dropout mask.

torch's own dropout draws from its generator, which no other program can reproduce; attend
decides each weight by a counter-based hash instead (src/attention/dropout.hpp), so this
script computes the same keep-mask M in NumPy and PyTorch does the rest:

    O = (softmax(scale · Q Kᵀ + mask) ⊙ M / (1 − p)) V,   gradients by autograd, in float64

M_ij for query head h of batch b (src/attention/dropout.hpp): the row key
r = SplitMix64-finaliser(seed + ((b·H + h)·Tq + i) · 0x9E3779B97F4A7C15 mod 2⁶⁴) >> 32, and
M_ij = [fmix32(r xor j · 0x9E3779B9 mod 2³²) ≥ ⌊p · 2³²⌋].

caseNN.{q,k,v,dout} are inputs, caseNN.{out,dq,dk,dv} expected, caseNN.kept the fraction
of visible weights kept, caseNN.params = [B, H, Hkv, Tq, Tk, D, window, causal, p, seed]
and caseNN.key_lengths when the case pads keys.
"""
import math

import numpy as np
import torch

from _common import output_path, save

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def keep_mask(seed, p, B, H, Tq, Tk):
    """(B, H, Tq, Tk) booleans: attend's M."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(B * H * Tq, dtype=np.uint64) * GOLDEN  # one key per query row
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        key = ((z ^ (z >> np.uint64(31))) >> np.uint64(32)).astype(np.uint32).reshape(-1, 1)
        j = np.arange(Tk, dtype=np.uint32).reshape(1, -1)
        h = key ^ (j * np.uint32(0x9E3779B9))
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    threshold = np.uint32(int(float(np.float32(p)) * 4294967296.0))
    return torch.from_numpy((h >= threshold).reshape(B, H, Tq, Tk))


CASES = [
    # T across the fused path's 128-key tiles, GQA, causal, padding, window, Tq < Tk, big p
    dict(B=2, H=4, ratio=2, D=16, Tq=64, Tk=64, causal=True, p=0.1, seed=1234),
    dict(B=1, H=2, ratio=1, D=32, Tq=257, Tk=257, causal=False, p=0.3, seed=99),
    dict(B=3, H=4, ratio=4, D=16, Tq=130, Tk=130, causal=True, padding=True, p=0.5, seed=7),
    dict(B=2, H=2, ratio=1, D=16, Tq=7, Tk=200, causal=True, p=0.2, seed=424242),
    dict(B=1, H=4, ratio=2, D=16, Tq=150, Tk=150, causal=False, window=20, p=0.9, seed=5),
]


def build(c, gen):
    B, H, D, Tq, Tk = c["B"], c["H"], c["D"], c["Tq"], c["Tk"]
    Hkv = H // c["ratio"]
    window = c.get("window", -1)
    q = torch.randn(B, H, Tq, D, generator=gen)
    k = torch.randn(B, Hkv, Tk, D, generator=gen)
    v = torch.randn(B, Hkv, Tk, D, generator=gen)
    dout = torch.randn(B, H, Tq, D, generator=gen)

    pos = torch.arange(Tq).view(Tq, 1) + (Tk - Tq)  # query i sits at position i + Tk - Tq
    j = torch.arange(Tk).view(1, Tk)
    allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
    if c["causal"]:
        allowed &= j <= pos
    if window >= 0:
        allowed &= (pos - j).abs() <= window
    tensors = {}
    if c.get("padding"):
        lengths = torch.tensor([Tk, Tk // 2, Tk - 3][:B])
        allowed &= j.view(1, 1, 1, Tk) < lengths.view(B, 1, 1, 1)
        tensors["key_lengths"] = lengths.float()
        # rows past a sequence's length under a causal mask still see its first keys
    assert bool(allowed.any(dim=-1).all())

    p = c["p"]
    m = keep_mask(c["seed"], p, B, H, Tq, Tk)
    qd, kd, vd = (t.double().requires_grad_() for t in (q, k, v))
    kr, vr = kd.repeat_interleave(H // Hkv, dim=1), vd.repeat_interleave(H // Hkv, dim=1)
    s = (qd @ kr.transpose(-1, -2)) / math.sqrt(D)
    s = s.masked_fill(~allowed, -math.inf)
    w = torch.softmax(s, dim=-1)
    out = (w * m.double() / (1.0 - float(np.float32(p)))) @ vr
    out.backward(dout.double())

    visible = allowed.expand(B, H, Tq, Tk)
    tensors.update(q=q, k=k, v=v, dout=dout, out=out, dq=qd.grad, dk=kd.grad, dv=vd.grad,
                   kept=torch.tensor([float(m[visible].double().mean())]),
                   params=torch.tensor([B, H, Hkv, Tq, Tk, D, window, int(c["causal"]), p, c["seed"]],
                                       dtype=torch.float64))
    return tensors


def main():
    path = output_path()
    gen = torch.Generator().manual_seed(2024)
    out = {}
    for n, c in enumerate(CASES):
        for name, t in build(c, gen).items():
            out[f"case{n:02d}.{name}"] = t
    save(path, out, {"cases": len(CASES)})


if __name__ == "__main__":
    main()
