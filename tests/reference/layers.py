"""The blocks held to PyTorch (tests/test_layers_parity.cpp reads what this writes).

1. torch.nn.TransformerEncoderLayer, TransformerDecoderLayer and nn.Transformer
   (batch_first=True, dropout=0), post-norm and norm_first=True, ReLU and GELU, with key
   padding on the source, a causal mask and padding on the target, and padding on the
   memory. Saved under "<case>.": the module's parameters under torch's state_dict names
   ("param.<name>"), the inputs, the lengths, the probe P (loss = Σ out ⊙ P), the output,
   and the gradient of every parameter and input ("grad.<name>").
2. A Llama-style decoder layer written here after Hugging Face's LlamaDecoderLayer
   (RMSNorm, RoPE in either layout, grouped-query attention, SwiGLU, no biases), with
   per-sequence position offsets.
3. RoPE alone in both layouts: Hugging Face's rotate_half and Meta's complex-number form.
4. The sinusoidal table as PyTorch's tutorial computes it.
5. The SwiGLU (LlamaMLP) and GELU-tanh feed-forward networks.

Everything is computed in float64 from float32-representable values, so the saved numbers
are the exact answer to the question our float32 code is asked.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from _common import output_path, save

F64 = torch.float64


def f32_values(t):
    return t.float().to(F64)


def randn(*shape, scale=1.0):
    return f32_values(torch.randn(*shape) * scale)


def randomise(module):
    """Random float32-representable parameters: weights ~ N(0, 1/fan_in), norm weights
    1 + N(0, 0.1²), biases N(0, 0.1²) (torch zeroes the attention biases; that would hide bugs)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 2:
                p.copy_(randn(*p.shape, scale=1.0 / math.sqrt(p.shape[1])))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + randn(*p.shape, scale=0.1))
            else:
                p.copy_(randn(*p.shape, scale=0.1))


def padding_mask(lengths, T):
    """torch's key_padding_mask: True where position j of sequence b is padding."""
    return torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]


def save_module(out, prefix, module):
    for name, p in module.named_parameters():
        out[prefix + "param." + name] = p
        out[prefix + "grad." + name] = p.grad


def save_input(out, prefix, name, t):
    out[prefix + name] = t
    out[prefix + "grad." + name] = t.grad


# ---------------------------------------------------------------- torch's own layers

def encoder_case(out, name, norm_first, activation, B=3, T=9, E=32, H=4, Fd=64, lengths=(9, 6, 2), causal=False):
    prefix = name + "."
    layer = nn.TransformerEncoderLayer(E, H, Fd, dropout=0.0, activation=activation, batch_first=True,
                                       norm_first=norm_first, dtype=F64)
    randomise(layer)
    src = randn(B, T, E).requires_grad_()
    probe = randn(B, T, E)
    mask = nn.Transformer.generate_square_subsequent_mask(T).to(F64) if causal else None
    y = layer(src, src_mask=mask, src_key_padding_mask=padding_mask(lengths, T))
    (y * probe).sum().backward()
    save_module(out, prefix, layer)
    save_input(out, prefix, "src", src)
    out[prefix + "src_lengths"] = torch.tensor(lengths, dtype=F64)
    out[prefix + "probe"] = probe
    out[prefix + "out"] = y


def decoder_case(out, name, norm_first, activation, B=3, T=7, S=9, E=32, H=4, Fd=64, tgt_lengths=(7, 5, 3),
                 memory_lengths=(9, 4, 6)):
    prefix = name + "."
    layer = nn.TransformerDecoderLayer(E, H, Fd, dropout=0.0, activation=activation, batch_first=True,
                                       norm_first=norm_first, dtype=F64)
    randomise(layer)
    tgt = randn(B, T, E).requires_grad_()
    memory = randn(B, S, E).requires_grad_()
    probe = randn(B, T, E)
    causal = nn.Transformer.generate_square_subsequent_mask(T).to(F64)
    y = layer(tgt, memory, tgt_mask=causal, tgt_key_padding_mask=padding_mask(tgt_lengths, T),
              memory_key_padding_mask=padding_mask(memory_lengths, S))
    (y * probe).sum().backward()
    save_module(out, prefix, layer)
    save_input(out, prefix, "tgt", tgt)
    save_input(out, prefix, "memory", memory)
    out[prefix + "tgt_lengths"] = torch.tensor(tgt_lengths, dtype=F64)
    out[prefix + "memory_lengths"] = torch.tensor(memory_lengths, dtype=F64)
    out[prefix + "probe"] = probe
    out[prefix + "out"] = y


def transformer_case(out, name, norm_first, activation, B=3, S=9, T=7, E=32, H=4, Fd=64, layers=2,
                     src_lengths=(9, 4, 6), tgt_lengths=(7, 5, 2)):
    prefix = name + "."
    model = nn.Transformer(E, H, num_encoder_layers=layers, num_decoder_layers=layers, dim_feedforward=Fd,
                           dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first, dtype=F64)
    randomise(model)
    src = randn(B, S, E).requires_grad_()
    tgt = randn(B, T, E).requires_grad_()
    probe = randn(B, T, E)
    src_pad = padding_mask(src_lengths, S)
    y = model(src, tgt, tgt_mask=model.generate_square_subsequent_mask(T).to(F64), src_key_padding_mask=src_pad,
              tgt_key_padding_mask=padding_mask(tgt_lengths, T), memory_key_padding_mask=src_pad)
    (y * probe).sum().backward()
    save_module(out, prefix, model)
    save_input(out, prefix, "src", src)
    save_input(out, prefix, "tgt", tgt)
    out[prefix + "src_lengths"] = torch.tensor(src_lengths, dtype=F64)
    out[prefix + "tgt_lengths"] = torch.tensor(tgt_lengths, dtype=F64)
    out[prefix + "probe"] = probe
    out[prefix + "out"] = y


# ---------------------------------------------------------------- RoPE

def rope_angles(positions, D, theta):
    """φ[b, t, i] = pos[b, t] · θ^{−2i/D}, (B, T, D/2), in float64."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=F64) / D))
    return positions.to(F64)[..., None] * inv_freq


def rope_rotate_half(x, positions, theta):
    """Hugging Face's apply_rotary_pos_emb: q·cos + rotate_half(q)·sin, cos/sin over [φ, φ]."""
    D = x.shape[-1]
    phi = rope_angles(positions, D, theta)
    emb = torch.cat((phi, phi), dim=-1)[:, None]  # (B, 1, T, D)
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    rotated = torch.cat((-x2, x1), dim=-1)
    return x * emb.cos() + rotated * emb.sin()


def rope_interleaved(x, positions, theta):
    """Meta's apply_rotary_emb: pairs (2i, 2i+1) as complex numbers times e^{iφ}."""
    D = x.shape[-1]
    phi = rope_angles(positions, D, theta)[:, None]  # (B, 1, T, D/2)
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], D // 2, 2).contiguous())
    freqs_cis = torch.polar(torch.ones_like(phi), phi)
    return torch.view_as_real(xc * freqs_cis).flatten(-2)


ROPE = {"interleaved": rope_interleaved, "rotate_half": rope_rotate_half}


def positions_of(offsets, T):
    return torch.tensor(offsets)[:, None] + torch.arange(T)[None, :]  # (B, T)


def rope_case(out, name, layout, theta, offsets, B=3, H=2, T=6, D=16):
    prefix = name + "."
    x = randn(B, H, T, D).requires_grad_()
    probe = randn(B, H, T, D)
    y = ROPE[layout](x, positions_of(offsets, T), theta)
    (y * probe).sum().backward()
    save_input(out, prefix, "x", x)
    out[prefix + "offsets"] = torch.tensor(offsets, dtype=F64)
    out[prefix + "probe"] = probe
    out[prefix + "out"] = y


# ---------------------------------------------------------------- Llama-style block (HF structure)

class RMSNorm(nn.Module):
    def __init__(self, E, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(E, dtype=F64))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LlamaAttention(nn.Module):
    def __init__(self, E, H, Hkv):
        super().__init__()
        self.H, self.Hkv, self.Dh = H, Hkv, E // H
        self.q_proj = nn.Linear(E, E, bias=False, dtype=F64)
        self.k_proj = nn.Linear(E, Hkv * self.Dh, bias=False, dtype=F64)
        self.v_proj = nn.Linear(E, Hkv * self.Dh, bias=False, dtype=F64)
        self.o_proj = nn.Linear(E, E, bias=False, dtype=F64)

    def forward(self, x, positions, lengths, layout, theta):
        B, T, E = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.Dh).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.Hkv, self.Dh).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.Hkv, self.Dh).transpose(1, 2)
        q, k = ROPE[layout](q, positions, theta), ROPE[layout](k, positions, theta)
        k = k.repeat_interleave(self.H // self.Hkv, dim=1)
        v = v.repeat_interleave(self.H // self.Hkv, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.Dh)
        masked = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)[None, None] | padding_mask(lengths, T)[:, None, None]
        scores = scores.masked_fill(masked, float("-inf"))
        o = torch.softmax(scores, dim=-1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(B, T, E))


class LlamaMLP(nn.Module):
    def __init__(self, E, Fd, bias=False):
        super().__init__()
        self.gate_proj = nn.Linear(E, Fd, bias=bias, dtype=F64)
        self.up_proj = nn.Linear(E, Fd, bias=bias, dtype=F64)
        self.down_proj = nn.Linear(Fd, E, bias=bias, dtype=F64)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, E, H, Hkv, Fd, eps):
        super().__init__()
        self.self_attn = LlamaAttention(E, H, Hkv)
        self.mlp = LlamaMLP(E, Fd)
        self.input_layernorm = RMSNorm(E, eps)
        self.post_attention_layernorm = RMSNorm(E, eps)

    def forward(self, x, positions, lengths, layout, theta):
        h = x + self.self_attn(self.input_layernorm(x), positions, lengths, layout, theta)
        return h + self.mlp(self.post_attention_layernorm(h))


def llama_case(out, name, layout, B=3, T=8, E=32, H=4, Hkv=2, Fd=88, eps=1e-5, theta=10000.0,
               lengths=(8, 5, 2), offsets=(0, 3, 11)):
    prefix = name + "."
    layer = LlamaDecoderLayer(E, H, Hkv, Fd, eps)
    randomise(layer)
    x = randn(B, T, E).requires_grad_()
    probe = randn(B, T, E)
    y = layer(x, positions_of(offsets, T), lengths, layout, theta)
    (y * probe).sum().backward()
    save_module(out, prefix, layer)
    save_input(out, prefix, "x", x)
    out[prefix + "lengths"] = torch.tensor(lengths, dtype=F64)
    out[prefix + "offsets"] = torch.tensor(offsets, dtype=F64)
    out[prefix + "probe"] = probe
    out[prefix + "out"] = y


# ---------------------------------------------------------------- feed-forward networks

def ff_case(out, name, module, B=3, T=5, E=32):
    prefix = name + "."
    randomise(module)
    x = randn(B, T, E).requires_grad_()
    probe = randn(B, T, E)
    y = module(x)
    (y * probe).sum().backward()
    save_module(out, prefix, module)
    save_input(out, prefix, "x", x)
    out[prefix + "probe"] = probe
    out[prefix + "out"] = y


class TwoLinear(nn.Module):
    def __init__(self, E, Fd, activation):
        super().__init__()
        self.linear1 = nn.Linear(E, Fd, dtype=F64)
        self.linear2 = nn.Linear(Fd, E, dtype=F64)
        self.activation = activation

    def forward(self, x):
        return self.linear2(self.activation(self.linear1(x)))


# ---------------------------------------------------------------- sinusoidal table

def sinusoidal_tutorial(P, d):
    """PyTorch's tutorial PositionalEncoding, in float64."""
    position = torch.arange(P, dtype=F64)[:, None]
    div_term = torch.exp(torch.arange(0, d, 2, dtype=F64) * (-math.log(10000.0) / d))
    pe = torch.zeros(P, d, dtype=F64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


def main():
    path = output_path()
    torch.manual_seed(0)
    out = {}
    encoder_case(out, "encoder_post_relu", norm_first=False, activation="relu")
    encoder_case(out, "encoder_pre_gelu", norm_first=True, activation="gelu")
    encoder_case(out, "encoder_post_gelu_causal", norm_first=False, activation="gelu", causal=True)
    decoder_case(out, "decoder_post_relu", norm_first=False, activation="relu")
    decoder_case(out, "decoder_pre_gelu", norm_first=True, activation="gelu")
    transformer_case(out, "transformer_post_relu", norm_first=False, activation="relu")
    transformer_case(out, "transformer_pre_gelu", norm_first=True, activation="gelu")

    llama_case(out, "llama_rotate_half", "rotate_half")
    llama_case(out, "llama_interleaved", "interleaved")

    rope_case(out, "rope_rotate_half", "rotate_half", 10000.0, offsets=(0, 5, 17))
    rope_case(out, "rope_interleaved", "interleaved", 10000.0, offsets=(0, 5, 17))
    # Far positions and Llama-3's θ: the phase must survive pos · ω ≈ 10⁵ rad.
    rope_case(out, "rope_far_rotate_half", "rotate_half", 500000.0, offsets=(100000, 4093, 0), D=64)
    rope_case(out, "rope_far_interleaved", "interleaved", 500000.0, offsets=(100000, 4093, 0), D=64)

    ff_case(out, "ff_swiglu", LlamaMLP(32, 88))
    ff_case(out, "ff_swiglu_bias", LlamaMLP(32, 48, bias=True))
    ff_case(out, "ff_gelu_tanh", TwoLinear(32, 64, nn.GELU(approximate="tanh")))
    ff_case(out, "ff_relu", TwoLinear(32, 64, nn.ReLU()))

    out["sinusoidal.128x64"] = sinusoidal_tutorial(128, 64)
    out["sinusoidal.50x512"] = sinusoidal_tutorial(50, 512)

    for k, v in out.items():
        assert torch.isfinite(v).all(), k
    save(path, out)


if __name__ == "__main__":
    main()
