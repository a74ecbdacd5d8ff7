"""Scaled dot-product attention in PyTorch, written out by hand (torch 1.13 has no
F.scaled_dot_product_attention), on a covering design of the issue's grid:

    batch {1, 3} × T {1, 7, 64, 257} × heads {1, 4, 8} × head dim {16, 64} × GQA ratio {1, 2, 4}
    × mask {none, causal, key padding, sliding window, boolean, additive, causal + padding}

The full product is thousands of cases; instead every (T, mask) pair appears once, and within
each mask type the four T cases together use both batch sizes, all three head counts, both
head dims and all three GQA ratios. A few extra cases cover what the grid does not: Tq < Tk
(decoding with a KV cache, chunked prefill), Dv != D, broadcast mask shapes, a custom scale,
peaked softmax, and every mask at once.

For case NN the file holds caseNN.{q,k,v,dout} (inputs), caseNN.{out,dq,dk,dv} (expected),
caseNN.weights (small cases only), caseNN.params =
[B, H, Hkv, Tq, Tk, D, Dv, window, causal, scale] (scale 0 = default 1/sqrt(D)), and when
present caseNN.key_lengths, caseNN.bool_mask, caseNN.additive_mask. Expected values are
computed in float64 from the float32 inputs, so they are exact to float32 rounding.
No query row is fully masked here (PyTorch gives NaN there); the C++ unit tests cover that.
"""
import math

import torch

from _common import output_path, save

MASKS = ["none", "causal", "padding", "window", "bool", "additive", "causal_padding"]
TS = [1, 7, 64, 257]


def grid_cases():
    """28 cases: each (mask, T) once; per mask the four cases cover B, H, D and the GQA ratio."""
    extra_heads = [(8, 1), (4, 4), (8, 2), (4, 1), (8, 1), (4, 4), (8, 2)]  # (H, ratio) of the 4th combo
    cases = []
    for mi, mask in enumerate(MASKS):
        combos = [
            dict(B=1, H=1, ratio=1, D=16),
            dict(B=3, H=4, ratio=2, D=64),
            dict(B=1, H=8, ratio=4, D=64),
            dict(B=3, H=extra_heads[mi][0], ratio=extra_heads[mi][1], D=16),
        ]
        for ti, T in enumerate(TS):
            c = dict(combos[(ti + mi) % 4])
            c.update(mask=mask, Tq=T, Tk=T)
            cases.append(c)
    return cases


def extra_cases():
    return [
        # decoding one token against a KV cache: query at absolute position Tk - 1
        dict(B=3, H=4, ratio=2, D=16, Tq=1, Tk=64, mask="causal"),
        dict(B=3, H=4, ratio=4, D=64, Tq=1, Tk=257, mask="causal_padding"),
        # chunked prefill: 7 queries at the end of 64 keys
        dict(B=3, H=8, ratio=2, D=16, Tq=7, Tk=64, mask="causal_padding"),
        dict(B=1, H=4, ratio=1, D=16, Tq=7, Tk=64, mask="window", window=4),
        # cross-attention shapes: Tq != Tk, Dv != D, a 2-D (Tq, Tk) boolean mask
        dict(B=3, H=4, ratio=1, D=16, Dv=32, Tq=7, Tk=64, mask="bool", bool_shape="TT"),
        # additive key padding shaped (B, 1, 1, Tk), as Hugging Face builds it
        dict(B=3, H=4, ratio=2, D=16, Tq=64, Tk=64, mask="additive", add_shape="B11T"),
        # a per-head boolean mask (B, H, Tq, Tk) and a per-head additive mask (1, H, Tq, Tk)
        dict(B=3, H=8, ratio=4, D=16, Tq=7, Tk=7, mask="bool", bool_shape="BHTT"),
        dict(B=1, H=8, ratio=2, D=64, Tq=64, Tk=64, mask="additive", add_shape="1HTT"),
        # a custom scale, and large scores (a peaked softmax)
        dict(B=3, H=4, ratio=1, D=64, Tq=64, Tk=64, mask="none", scale=0.5),
        dict(B=1, H=4, ratio=2, D=16, Tq=64, Tk=64, mask="causal", q_gain=6.0),
        # every mask at once
        dict(B=3, H=8, ratio=2, D=16, Tq=64, Tk=64, mask="all", window=9),
    ]


def build_case(c, gen):
    B, H, D, Tq, Tk = c["B"], c["H"], c["D"], c["Tq"], c["Tk"]
    Hkv = H // c["ratio"]
    Dv = c.get("Dv", D)
    mask = c["mask"]
    kinds = {"causal_padding": {"causal", "padding"},
             "all": {"causal", "padding", "window", "bool", "additive"}}.get(mask, {mask})
    causal = "causal" in kinds
    window = c.get("window", max(1, Tk // 5)) if "window" in kinds else -1
    scale_opt = c.get("scale", 0.0)
    scale = scale_opt if scale_opt else 1.0 / math.sqrt(D)

    q = torch.randn(B, H, Tq, D, generator=gen) * c.get("q_gain", 1.0)
    k = torch.randn(B, Hkv, Tk, D, generator=gen)
    v = torch.randn(B, Hkv, Tk, Dv, generator=gen)
    dout = torch.randn(B, H, Tq, Dv, generator=gen)

    # Structural mask: which keys each query may see. Query i sits at position i + Tk - Tq.
    pos = torch.arange(Tq).view(Tq, 1) + (Tk - Tq)
    j = torch.arange(Tk).view(1, Tk)
    allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
    if causal:
        allowed &= (j <= pos)
    if window >= 0:
        allowed &= ((pos - j).abs() <= window)
    tensors = {}
    if "padding" in kinds:
        lengths = torch.randint(1, Tk + 1, (B,), generator=gen)
        if B > 1:  # one sequence unpadded, one half padding
            lengths[0], lengths[-1] = Tk, max(1, Tk // 2)
        else:
            lengths[0] = max(1, 2 * Tk // 3)
        if window >= 0:  # the last query sees keys from Tk - 1 - window on: keep one of them
            lengths.clamp_(min=Tk - window)
        allowed &= (j.view(1, 1, 1, Tk) < lengths.view(B, 1, 1, 1))
        tensors["key_lengths"] = lengths.float()
    # One key per row that every elementwise mask leaves visible: no row is fully masked.
    first_visible = allowed.float().argmax(dim=-1, keepdim=True)  # (B, 1, Tq, 1)
    assert bool(allowed.any(dim=-1).all()), "structural mask hides a whole row"
    keep = torch.zeros(B, 1, Tq, Tk, dtype=torch.bool).scatter_(-1, first_visible, True)

    full = (B, H, Tq, Tk)
    if "bool" in kinds:
        shape = {"B1TT": (B, 1, Tq, Tk), "TT": (Tq, Tk), "BHTT": (B, H, Tq, Tk)}[c.get("bool_shape", "B1TT")]
        bm = torch.rand(shape, generator=gen) < 0.7
        if len(shape) == 2:  # shared by the batch: keep every batch element's first visible key
            bm |= keep.any(dim=0)[0]
        else:
            bm |= keep.expand(B, shape[1], Tq, Tk)
        tensors["bool_mask"] = bm.float()
        allowed = allowed & bm.expand(full)
    else:
        allowed = allowed.expand(full)
    additive = None
    if "additive" in kinds:
        shape = {"B1TT": (B, 1, Tq, Tk), "1HTT": (1, H, Tq, Tk), "B11T": (B, 1, 1, Tk)}[c.get("add_shape", "B1TT")]
        if shape == (B, 1, 1, Tk):  # padding as an additive mask: 0 or -inf per key
            n = torch.randint(1, Tk + 1, (B,), generator=gen)
            additive = torch.where(torch.arange(Tk).view(1, 1, 1, Tk) < n.view(B, 1, 1, 1), 0.0, -math.inf)
        else:
            additive = torch.randn(shape, generator=gen) * 2.0
            hide = torch.rand(shape, generator=gen) < 0.2
            hide &= ~keep.expand(B, shape[1], Tq, Tk)[: shape[0]]
            additive = additive.masked_fill(hide, -math.inf)
        tensors["additive_mask"] = additive

    # The reference, in float64: scores, masks, softmax, weighted sum; GQA by repeating kv heads.
    qd, kd, vd = (t.double().requires_grad_() for t in (q, k, v))
    kr = kd.repeat_interleave(H // Hkv, dim=1)
    vr = vd.repeat_interleave(H // Hkv, dim=1)
    scores = (qd @ kr.transpose(-1, -2)) * scale
    if additive is not None:
        scores = scores + additive.double()
    scores = scores.masked_fill(~allowed, -math.inf)
    weights = torch.softmax(scores, dim=-1)
    assert not torch.isnan(weights).any(), "a fully masked row slipped into the torch grid"
    out = weights @ vr
    out.backward(dout.double())

    params = [B, H, Hkv, Tq, Tk, D, Dv, window, float(causal), scale_opt]
    tensors.update(q=q, k=k, v=v, dout=dout, out=out, dq=qd.grad, dk=kd.grad, dv=vd.grad,
                   params=torch.tensor(params, dtype=torch.float64))
    if Tq * Tk <= 64 * 64:
        tensors["weights"] = weights
    return tensors


def check_covering(cases):
    """The design's promise, checked: every (T, mask) pair, and every value of each other axis
    with every mask type."""
    for mask in MASKS:
        sub = [c for c in cases if c["mask"] == mask]
        for axis, values in (("Tq", TS), ("B", [1, 3]), ("H", [1, 4, 8]), ("D", [16, 64]), ("ratio", [1, 2, 4])):
            missing = set(values) - {c[axis] for c in sub}
            assert not missing, f"mask {mask} never meets {axis} in {missing}"


def main():
    path = output_path()
    gen = torch.Generator().manual_seed(20240602)
    out = {}
    cases = grid_cases() + extra_cases()
    check_covering(cases)
    for n, c in enumerate(cases):
        for name, t in build_case(c, gen).items():
            out[f"case{n:02d}.{name}"] = t.detach()
    save(path, out, metadata={"cases": len(cases)})


if __name__ == "__main__":
    main()
