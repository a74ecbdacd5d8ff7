"""Multi-head attention held to PyTorch: torch.nn.MultiheadAttention (batch_first=True)
forward and backward on the weights we load, and, for grouped-query attention (which torch
1.13's module lacks), a hand-written torch module whose key/value heads are
repeat_interleave'd to the query heads.

Every case writes, under "<case>.": its inputs (x for self-attention, else query, key,
value), the probe P (the loss is Σ out ⊙ P, so every output element carries gradient), the
module's parameters under torch's names, masks (key_lengths, attn_mask), the output,
the per-head weights where asked, and "grad.<name>" for every input and parameter.

Torch computes in float64 from float32-representable values, so the saved expectations are
the exact answer to the question our float32 code is asked."""
import math

import torch
import torch.nn as nn

from _common import output_path, save

F64 = torch.float64


def f32_values(t):
    """Round to float32 and compute in float64: what we save is exactly what torch used."""
    return t.float().to(F64)


def randn(*shape, scale=1.0):
    return f32_values(torch.randn(*shape) * scale)


def padding_mask(lengths, Tk):
    """torch's key_padding_mask: True where key j of sequence b is padding (j >= length)."""
    return torch.arange(Tk)[None, :] >= torch.tensor(lengths)[:, None]


def causal_mask(Tq, Tk):
    """torch's boolean attn_mask: True = may NOT attend; query i sits at i + (Tk - Tq)."""
    i = torch.arange(Tq)[:, None] + (Tk - Tq)
    return torch.arange(Tk)[None, :] > i


class GroupedQueryAttention(nn.Module):
    """The plain definition: separate q/k/v/out Linear layers, Hkv key/value heads each
    shared by H/Hkv consecutive query heads (repeat_interleave), softmax(QKᵀ/√Dh + M)V."""

    def __init__(self, E, H, Hkv, kdim, vdim):
        super().__init__()
        self.H, self.Hkv, self.Dh = H, Hkv, E // H
        self.q_proj = nn.Linear(E, E, dtype=F64)
        self.k_proj = nn.Linear(kdim, Hkv * self.Dh, dtype=F64)
        self.v_proj = nn.Linear(vdim, Hkv * self.Dh, dtype=F64)
        self.out_proj = nn.Linear(E, E, dtype=F64)

    def forward(self, query, key, value, lengths=None, causal=False):
        B, Tq, E = query.shape
        Tk = key.shape[1]
        q = self.q_proj(query).view(B, Tq, self.H, self.Dh).transpose(1, 2)
        k = self.k_proj(key).view(B, Tk, self.Hkv, self.Dh).transpose(1, 2)
        v = self.v_proj(value).view(B, Tk, self.Hkv, self.Dh).transpose(1, 2)
        k = k.repeat_interleave(self.H // self.Hkv, dim=1)  # query head h reads kv head h // (H/Hkv)
        v = v.repeat_interleave(self.H // self.Hkv, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.Dh)  # (B, H, Tq, Tk)
        masked = torch.zeros(B, 1, Tq, Tk, dtype=torch.bool)
        if lengths is not None:
            masked |= padding_mask(lengths, Tk)[:, None, None, :]
        if causal:
            masked |= causal_mask(Tq, Tk)[None, None]
        scores = scores.masked_fill(masked, float("-inf"))
        o = torch.softmax(scores, dim=-1) @ v  # (B, H, Tq, Dh)
        return self.out_proj(o.transpose(1, 2).reshape(B, Tq, E))


def randomise(module):
    """Random float32-representable parameters, biases included (torch zeroes them)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(f32_values(torch.randn(p.shape) * (0.3 if p.dim() == 2 else 0.1)))


def run_case(out, name, B, Tq, Tk, E, H, Hkv=None, kdim=None, vdim=None, self_attention=False, causal=False,
             lengths=None, additive=None, bias=True, weights=False):
    Hkv = Hkv or H
    kdim, vdim = kdim or E, vdim or E
    prefix = name + "."
    if self_attention:
        x = randn(B, Tq, E).requires_grad_()
        query = key = value = x
        inputs = {"x": x}
    else:
        query = randn(B, Tq, E).requires_grad_()
        key = randn(B, Tk, kdim).requires_grad_()
        value = randn(B, Tk, vdim).requires_grad_()
        inputs = {"query": query, "key": key, "value": value}
    probe = randn(B, Tq, E)

    attn_weights = None
    if Hkv == H:
        module = nn.MultiheadAttention(E, H, bias=bias, kdim=kdim, vdim=vdim, batch_first=True, dtype=F64)
        randomise(module)
        attn_mask = None
        if causal:
            attn_mask = causal_mask(Tq, Tk)
        if additive is not None:
            attn_mask = additive
        key_padding_mask = padding_mask(lengths, Tk) if lengths is not None else None
        result, attn_weights = module(query, key, value, key_padding_mask=key_padding_mask, need_weights=weights,
                                      attn_mask=attn_mask, average_attn_weights=False)
    else:
        assert additive is None
        module = GroupedQueryAttention(E, H, Hkv, kdim, vdim)
        randomise(module)
        result = module(query, key, value, lengths=lengths, causal=causal)
    (result * probe).sum().backward()

    # Parameters under torch.nn.MultiheadAttention's names. The GQA module is saved as
    # MultiheadAttention would hold it: packed (in_proj_weight = [W_q; W_k; W_v]) when key
    # and value are E wide, separate q/k/v_proj_weight otherwise; in_proj_bias = [b_q; b_k; b_v].
    if isinstance(module, GroupedQueryAttention):
        def stack(name, tensors):
            out[prefix + name] = torch.cat(tensors)
            out[prefix + "grad." + name] = torch.cat([t.grad for t in tensors])
        w = [module.q_proj.weight, module.k_proj.weight, module.v_proj.weight]
        if kdim == E and vdim == E:
            stack("in_proj_weight", w)
            params = {}
        else:
            params = {"q_proj_weight": w[0], "k_proj_weight": w[1], "v_proj_weight": w[2]}
        stack("in_proj_bias", [module.q_proj.bias, module.k_proj.bias, module.v_proj.bias])
        params["out_proj.weight"] = module.out_proj.weight
        params["out_proj.bias"] = module.out_proj.bias
    else:
        params = dict(module.named_parameters())
    for pname, p in params.items():
        out[prefix + pname] = p
        out[prefix + "grad." + pname] = p.grad
    for iname, t in inputs.items():
        out[prefix + iname] = t
        out[prefix + "grad." + iname] = t.grad
    out[prefix + "probe"] = probe
    out[prefix + "out"] = result
    if weights:
        out[prefix + "weights"] = attn_weights  # (B, H, Tq, Tk)
    if lengths is not None:
        out[prefix + "key_lengths"] = torch.tensor(lengths, dtype=F64)
    if additive is not None:
        out[prefix + "attn_mask"] = additive


def additive_mask(*shape, Tq, Tk):
    """Random scores bias with some -inf entries, but never a whole row masked."""
    m = randn(*shape)
    holes = torch.rand(*shape) < 0.2
    holes &= (torch.arange(Tk)[None, :] != torch.arange(Tq)[:, None] % Tk)  # keep one key per row
    return m.masked_fill(holes, float("-inf"))


def main():
    path = output_path()
    torch.manual_seed(0)
    out = {}
    run_case(out, "self", B=3, Tq=7, Tk=7, E=64, H=4, self_attention=True)
    run_case(out, "causal", B=3, Tq=64, Tk=64, E=128, H=8, self_attention=True, causal=True)
    run_case(out, "padding", B=3, Tq=64, Tk=64, E=64, H=4, self_attention=True, lengths=[64, 41, 9])
    run_case(out, "cross", B=3, Tq=7, Tk=64, E=64, H=4, kdim=48, vdim=80)
    run_case(out, "cross_padding", B=3, Tq=64, Tk=7, E=128, H=8, kdim=32, vdim=96, lengths=[7, 3, 1])
    run_case(out, "additive", B=3, Tq=7, Tk=7, E=64, H=4, self_attention=True,
             additive=additive_mask(7, 7, Tq=7, Tk=7))
    run_case(out, "additive_per_head", B=3, Tq=64, Tk=33, E=64, H=4, kdim=40, vdim=40,
             additive=additive_mask(3 * 4, 64, 33, Tq=64, Tk=33))
    run_case(out, "weights", B=3, Tq=7, Tk=7, E=64, H=4, self_attention=True, causal=True, lengths=[7, 5, 2],
             weights=True)
    run_case(out, "weights_cross", B=3, Tq=64, Tk=17, E=128, H=8, kdim=24, vdim=56, lengths=[17, 9, 1],
             weights=True)
    run_case(out, "no_bias", B=3, Tq=7, Tk=7, E=64, H=4, self_attention=True, causal=True, bias=False)
    run_case(out, "gqa1", B=3, Tq=64, Tk=64, E=64, H=4, Hkv=1, self_attention=True, causal=True)
    run_case(out, "gqa2", B=3, Tq=7, Tk=33, E=64, H=4, Hkv=2, kdim=48, vdim=80, lengths=[33, 20, 4])
    run_case(out, "gqa2_self", B=3, Tq=7, Tk=7, E=64, H=4, Hkv=2, self_attention=True)
    for k, v in out.items():
        assert torch.isfinite(v).all() or k.endswith("attn_mask"), k
    save(path, out)


if __name__ == "__main__":
    main()
