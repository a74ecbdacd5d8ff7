"""Whole models held to PyTorch: reference GPT-2, BERT and Llama modules written here in
torch, following Hugging Face's module structure and parameter names (so a state_dict of
these loads exactly as a real HF checkpoint would), and an encoder–decoder built on
torch.nn.Transformer with a shared embedding, sinusoidal positions and a tied generator.

Small random configs; every case writes, under "<case>.":
  param.<hf name>   the parameters (named_parameters(): a tied matrix appears once)
  grad.<hf name>    d loss / d parameter, for every parameter
  ids, lengths, token_types, targets (seq2seq: src, src_lengths, tgt, tgt_lengths, targets)
  logits, loss
Padding is on the right; lengths become HF's attention_mask (and torch's key_padding_mask).

Everything is computed in float64 from float32-representable values, so the saved numbers are
the exact answer to the question our float32 code is asked. (HF itself computes RoPE's
frequencies in float32; the float64 answer is the one to be close to.)"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from _common import output_path, save

F64 = torch.float64
NEG = torch.finfo(F64).min  # HF's additive mask value


def f32_values(t):
    return t.float().to(F64)


def randn(*shape, scale=1.0):
    return f32_values(torch.randn(*shape) * scale)


def padding_bias(lengths, T):
    """HF's extended attention mask: (B, 1, 1, T), 0 where key j < length, finfo.min after."""
    keep = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    return torch.zeros(keep.shape, dtype=F64).masked_fill(~keep, NEG)[:, None, None, :]


def causal_keep(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


# ---------------------------------------------------------------- GPT-2 (transformers' modeling_gpt2)
class Conv1D(nn.Module):
    """GPT-2's linear layer: y = x · W + b with W stored (in, out) — the transpose of nn.Linear."""

    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf, dtype=F64))
        self.bias = nn.Parameter(torch.zeros(nf, dtype=F64))

    def forward(self, x):
        return x @ self.weight + self.bias


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, E, H):
        super().__init__()
        self.H, self.Dh = H, E // H
        self.c_attn = Conv1D(3 * E, E)
        self.c_proj = Conv1D(E, E)

    def forward(self, x, bias):
        B, T, E = x.shape
        q, k, v = self.c_attn(x).split(E, dim=2)
        q, k, v = (t.view(B, T, self.H, self.Dh).transpose(1, 2) for t in (q, k, v))
        w = q @ k.transpose(-1, -2) / math.sqrt(self.Dh)
        w = torch.where(causal_keep(T), w, torch.tensor(NEG, dtype=F64)) + bias
        o = torch.softmax(w, dim=-1) @ v
        return self.c_proj(o.transpose(1, 2).reshape(B, T, E))


class GPT2MLP(nn.Module):
    def __init__(self, E, F_):
        super().__init__()
        self.c_fc = Conv1D(F_, E)
        self.c_proj = Conv1D(E, F_)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, E, H, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(E, eps=eps, dtype=F64)
        self.attn = GPT2Attention(E, H)
        self.ln_2 = nn.LayerNorm(E, eps=eps, dtype=F64)
        self.mlp = GPT2MLP(E, 4 * E)

    def forward(self, x, bias):
        x = x + self.attn(self.ln_1(x), bias)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, V, P, E, L, H, eps):
        super().__init__()
        self.wte = nn.Embedding(V, E, dtype=F64)
        self.wpe = nn.Embedding(P, E, dtype=F64)
        self.h = nn.ModuleList([GPT2Block(E, H, eps) for _ in range(L)])
        self.ln_f = nn.LayerNorm(E, eps=eps, dtype=F64)

    def forward(self, ids, lengths):
        B, T = ids.shape
        x = self.wte(ids) + self.wpe(torch.arange(T))[None]
        bias = padding_bias(lengths, T)
        for block in self.h:
            x = block(x, bias)
        return self.ln_f(x)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.transformer = GPT2Model(**kw)
        self.lm_head = nn.Linear(kw["E"], kw["V"], bias=False, dtype=F64)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, ids, lengths):
        return self.lm_head(self.transformer(ids, lengths))


# ---------------------------------------------------------------- BERT (transformers' modeling_bert)
class BertEmbeddings(nn.Module):
    def __init__(self, V, P, types, E, eps):
        super().__init__()
        self.word_embeddings = nn.Embedding(V, E, dtype=F64)
        self.position_embeddings = nn.Embedding(P, E, dtype=F64)
        self.token_type_embeddings = nn.Embedding(types, E, dtype=F64)
        self.LayerNorm = nn.LayerNorm(E, eps=eps, dtype=F64)

    def forward(self, ids, token_types):
        T = ids.shape[1]
        x = self.word_embeddings(ids) + self.position_embeddings(torch.arange(T))[None]
        return self.LayerNorm(x + self.token_type_embeddings(token_types))


class BertSelfAttention(nn.Module):
    def __init__(self, E, H):
        super().__init__()
        self.H, self.Dh = H, E // H
        self.query = nn.Linear(E, E, dtype=F64)
        self.key = nn.Linear(E, E, dtype=F64)
        self.value = nn.Linear(E, E, dtype=F64)

    def forward(self, x, bias):
        B, T, E = x.shape
        q, k, v = (m(x).view(B, T, self.H, self.Dh).transpose(1, 2) for m in (self.query, self.key, self.value))
        w = q @ k.transpose(-1, -2) / math.sqrt(self.Dh) + bias
        return (torch.softmax(w, dim=-1) @ v).transpose(1, 2).reshape(B, T, E)


class BertSelfOutput(nn.Module):
    def __init__(self, E, eps):
        super().__init__()
        self.dense = nn.Linear(E, E, dtype=F64)
        self.LayerNorm = nn.LayerNorm(E, eps=eps, dtype=F64)

    def forward(self, h, x):
        return self.LayerNorm(self.dense(h) + x)


class BertAttention(nn.Module):
    def __init__(self, E, H, eps):
        super().__init__()
        self.self = BertSelfAttention(E, H)
        self.output = BertSelfOutput(E, eps)

    def forward(self, x, bias):
        return self.output(self.self(x, bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, E, F_):
        super().__init__()
        self.dense = nn.Linear(E, F_, dtype=F64)

    def forward(self, x):
        return F.gelu(self.dense(x))  # hidden_act "gelu": the exact erf form


class BertOutput(nn.Module):
    def __init__(self, E, F_, eps):
        super().__init__()
        self.dense = nn.Linear(F_, E, dtype=F64)
        self.LayerNorm = nn.LayerNorm(E, eps=eps, dtype=F64)

    def forward(self, h, x):
        return self.LayerNorm(self.dense(h) + x)


class BertLayer(nn.Module):
    def __init__(self, E, H, F_, eps):
        super().__init__()
        self.attention = BertAttention(E, H, eps)
        self.intermediate = BertIntermediate(E, F_)
        self.output = BertOutput(E, F_, eps)

    def forward(self, x, bias):
        a = self.attention(x, bias)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, E, H, F_, L, eps):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(E, H, F_, eps) for _ in range(L)])

    def forward(self, x, bias):
        for layer in self.layer:
            x = layer(x, bias)
        return x


class BertPooler(nn.Module):
    def __init__(self, E):
        super().__init__()
        self.dense = nn.Linear(E, E, dtype=F64)

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    def __init__(self, V, P, types, E, H, F_, L, eps, pooler):
        super().__init__()
        self.embeddings = BertEmbeddings(V, P, types, E, eps)
        self.encoder = BertEncoder(E, H, F_, L, eps)
        self.pooler = BertPooler(E) if pooler else None

    def forward(self, ids, token_types, lengths):
        h = self.encoder(self.embeddings(ids, token_types), padding_bias(lengths, ids.shape[1]))
        return h, (self.pooler(h) if self.pooler is not None else None)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, E, eps):
        super().__init__()
        self.dense = nn.Linear(E, E, dtype=F64)
        self.LayerNorm = nn.LayerNorm(E, eps=eps, dtype=F64)

    def forward(self, h):
        return self.LayerNorm(F.gelu(self.dense(h)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, V, E, eps):
        super().__init__()
        self.transform = BertPredictionHeadTransform(E, eps)
        self.decoder = nn.Linear(E, V, bias=False, dtype=F64)
        self.bias = nn.Parameter(torch.zeros(V, dtype=F64))

    def forward(self, h):
        return self.decoder(self.transform(h)) + self.bias


class BertOnlyMLMHead(nn.Module):
    def __init__(self, V, E, eps):
        super().__init__()
        self.predictions = BertLMPredictionHead(V, E, eps)

    def forward(self, h):
        return self.predictions(h)


class BertForMaskedLM(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.bert = BertModel(**kw, pooler=False)
        self.cls = BertOnlyMLMHead(kw["V"], kw["E"], kw["eps"])
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight  # tied

    def forward(self, ids, token_types, lengths):
        return self.cls(self.bert(ids, token_types, lengths)[0])


class BertForSequenceClassification(nn.Module):
    def __init__(self, n_classes, **kw):
        super().__init__()
        self.bert = BertModel(**kw, pooler=True)
        self.classifier = nn.Linear(kw["E"], n_classes, dtype=F64)

    def forward(self, ids, token_types, lengths):
        return self.classifier(self.bert(ids, token_types, lengths)[1])


# ---------------------------------------------------------------- Llama (transformers' modeling_llama)
class LlamaRMSNorm(nn.Module):
    def __init__(self, E, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(E, dtype=F64))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, dim, base):
        super().__init__()
        self.inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=F64) / dim))

    def forward(self, T):
        freqs = torch.outer(torch.arange(T, dtype=F64), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()


class LlamaAttention(nn.Module):
    def __init__(self, E, H, Hkv, theta):
        super().__init__()
        self.H, self.Hkv, self.Dh = H, Hkv, E // H
        self.q_proj = nn.Linear(E, H * self.Dh, bias=False, dtype=F64)
        self.k_proj = nn.Linear(E, Hkv * self.Dh, bias=False, dtype=F64)
        self.v_proj = nn.Linear(E, Hkv * self.Dh, bias=False, dtype=F64)
        self.o_proj = nn.Linear(H * self.Dh, E, bias=False, dtype=F64)
        self.rotary_emb = LlamaRotaryEmbedding(self.Dh, theta)

    def forward(self, x, bias):
        B, T, E = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.Dh).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.Hkv, self.Dh).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.Hkv, self.Dh).transpose(1, 2)
        cos, sin = self.rotary_emb(T)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        n_rep = self.H // self.Hkv  # repeat_kv: query head h reads key/value head h // n_rep
        k = k[:, :, None].expand(B, self.Hkv, n_rep, T, self.Dh).reshape(B, self.H, T, self.Dh)
        v = v[:, :, None].expand(B, self.Hkv, n_rep, T, self.Dh).reshape(B, self.H, T, self.Dh)
        w = q @ k.transpose(-1, -2) / math.sqrt(self.Dh)
        w = torch.where(causal_keep(T), w, torch.tensor(NEG, dtype=F64)) + bias
        o = torch.softmax(w, dim=-1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(B, T, E))


class LlamaMLP(nn.Module):
    def __init__(self, E, F_):
        super().__init__()
        self.gate_proj = nn.Linear(E, F_, bias=False, dtype=F64)
        self.up_proj = nn.Linear(E, F_, bias=False, dtype=F64)
        self.down_proj = nn.Linear(F_, E, bias=False, dtype=F64)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, E, H, Hkv, F_, eps, theta):
        super().__init__()
        self.self_attn = LlamaAttention(E, H, Hkv, theta)
        self.mlp = LlamaMLP(E, F_)
        self.input_layernorm = LlamaRMSNorm(E, eps)
        self.post_attention_layernorm = LlamaRMSNorm(E, eps)

    def forward(self, x, bias):
        x = x + self.self_attn(self.input_layernorm(x), bias)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, V, E, H, Hkv, F_, L, eps, theta):
        super().__init__()
        self.embed_tokens = nn.Embedding(V, E, dtype=F64)
        self.layers = nn.ModuleList([LlamaDecoderLayer(E, H, Hkv, F_, eps, theta) for _ in range(L)])
        self.norm = LlamaRMSNorm(E, eps)

    def forward(self, ids, lengths):
        x = self.embed_tokens(ids)
        bias = padding_bias(lengths, ids.shape[1])
        for layer in self.layers:
            x = layer(x, bias)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.model = LlamaModel(**kw)
        self.lm_head = nn.Linear(kw["E"], kw["V"], bias=False, dtype=F64)  # untied

    def forward(self, ids, lengths):
        return self.lm_head(self.model(ids, lengths))


# ---------------------------------------------------------------- encoder–decoder on nn.Transformer
def sinusoidal(P, E):
    pos = torch.arange(P, dtype=F64)[:, None]
    omega = torch.pow(torch.tensor(10000.0, dtype=F64), -torch.arange(0, E, 2, dtype=F64) / E)
    pe = torch.zeros(P, E, dtype=F64)
    pe[:, 0::2] = torch.sin(pos * omega)
    pe[:, 1::2] = torch.cos(pos * omega)
    return pe


class Seq2Seq(nn.Module):
    """Vaswani et al. 2017 around torch's nn.Transformer: one embedding for source and target,
    scaled by √d_model, sinusoidal positions, the generator tied to the embedding."""

    def __init__(self, V, E, H, F_, enc, dec, P, norm_first):
        super().__init__()
        self.E = E
        self.embedding = nn.Embedding(V, E, dtype=F64)
        self.transformer = nn.Transformer(E, H, enc, dec, F_, dropout=0.0, batch_first=True,
                                          norm_first=norm_first, dtype=F64)
        self.generator = nn.Linear(E, V, bias=False, dtype=F64)
        self.generator.weight = self.embedding.weight  # tied
        self.register_buffer("pe", sinusoidal(P, E))

    def embed(self, ids):
        return self.embedding(ids) * math.sqrt(self.E) + self.pe[: ids.shape[1]][None]

    def forward(self, src, src_lengths, tgt, tgt_lengths):
        S, T = src.shape[1], tgt.shape[1]
        src_pad = torch.arange(S)[None, :] >= torch.tensor(src_lengths)[:, None]  # True = padding
        tgt_pad = torch.arange(T)[None, :] >= torch.tensor(tgt_lengths)[:, None]
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)      # True = may not attend
        out = self.transformer(self.embed(src), self.embed(tgt), tgt_mask=causal, src_key_padding_mask=src_pad,
                               tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad)
        return self.generator(out)


# ---------------------------------------------------------------- randomising and running
def randomise(model):
    """Random float32-representable parameters at sizes that keep activations O(1): matrices
    N(0, 1/fan_in), embeddings N(0, 0.5²), norm weights 1 + N(0, 0.1²), biases N(0, 0.1²)."""
    done = set()
    with torch.no_grad():
        def fill(p, value):
            if id(p) not in done:
                p.copy_(value)
                done.add(id(p))

        for m in model.modules():
            if isinstance(m, nn.Embedding):
                fill(m.weight, randn(*m.weight.shape, scale=0.5))
            elif isinstance(m, Conv1D):
                fill(m.weight, randn(*m.weight.shape, scale=1 / math.sqrt(m.weight.shape[0])))
                fill(m.bias, randn(*m.bias.shape, scale=0.1))
            elif isinstance(m, nn.Linear):
                fill(m.weight, randn(*m.weight.shape, scale=1 / math.sqrt(m.weight.shape[1])))
                if m.bias is not None:
                    fill(m.bias, randn(*m.bias.shape, scale=0.1))
            elif isinstance(m, (nn.LayerNorm, LlamaRMSNorm)):
                fill(m.weight, 1 + randn(*m.weight.shape, scale=0.1))
                if getattr(m, "bias", None) is not None:
                    fill(m.bias, randn(*m.bias.shape, scale=0.1))
            elif isinstance(m, nn.MultiheadAttention):
                fill(m.in_proj_weight, randn(*m.in_proj_weight.shape, scale=1 / math.sqrt(m.embed_dim)))
                fill(m.in_proj_bias, randn(*m.in_proj_bias.shape, scale=0.1))
        for name, p in model.named_parameters():  # anything else (BERT's cls.predictions.bias)
            fill(p, randn(*p.shape, scale=0.1))


def record(out, case, model, inputs, logits, targets, ignore_index=-100):
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index)
    loss.backward()
    for name, p in model.named_parameters():
        out[f"{case}.param.{name}"] = p
        out[f"{case}.grad.{name}"] = p.grad
    for key, value in inputs.items():
        out[f"{case}.{key}"] = torch.as_tensor(value, dtype=F64)
    out[f"{case}.targets"] = targets.to(F64)
    out[f"{case}.logits"] = logits
    out[f"{case}.loss"] = loss.reshape(1)


def next_token_targets(ids, lengths):
    B, T = ids.shape
    targets = torch.full((B, T), -100, dtype=torch.long)
    for b, n in enumerate(lengths):
        targets[b, : n - 1] = ids[b, 1:n]
    return targets


def right_padded(V, lengths, T):
    ids = torch.randint(1, V, (len(lengths), T))
    for b, n in enumerate(lengths):
        ids[b, n:] = 0  # a pad id; its value must not matter
    return ids


def main():
    path = output_path()
    torch.manual_seed(0)
    out = {}

    # GPT-2: 2 layers, E=48, 4 heads, padded batch.
    model = GPT2LMHeadModel(V=97, P=24, E=48, L=2, H=4, eps=1e-5)
    randomise(model)
    lengths = [11, 8, 3]
    ids = right_padded(97, lengths, 11)
    logits = model(ids, lengths)
    record(out, "gpt2", model, {"ids": ids, "lengths": lengths}, logits, next_token_targets(ids, lengths))

    # BERT with the MLM head: padded batch, two segments, ~1/4 of the real tokens masked for the loss.
    for case, n_classes in (("bert_mlm", 0), ("bert_cls", 3)):
        kw = dict(V=101, P=32, types=2, E=64, H=4, F_=128, L=2, eps=1e-12)
        model = BertForMaskedLM(**kw) if n_classes == 0 else BertForSequenceClassification(n_classes, **kw)
        randomise(model)
        lengths = [12, 9, 5]
        ids = right_padded(101, lengths, 12)
        token_types = torch.zeros_like(ids)
        for b, n in enumerate(lengths):
            token_types[b, n // 2 : n] = 1  # segment B: the second half of the real tokens
        logits = model(ids, token_types, lengths)
        if n_classes == 0:
            targets = torch.full_like(ids, -100)
            pick = torch.rand(ids.shape) < 0.25
            for b, n in enumerate(lengths):
                pick[b, n:] = False
                pick[b, 1] = True  # at least one target per sequence
            targets[pick] = torch.randint(0, 101, (int(pick.sum()),))
        else:
            targets = torch.tensor([2, 0, 1])
        record(out, case, model, {"ids": ids, "lengths": lengths, "token_types": token_types}, logits, targets)

    # Llama: grouped-query attention (4 query heads, 2 key/value heads), RoPE, SwiGLU, RMSNorm.
    model = LlamaForCausalLM(V=89, E=64, H=4, Hkv=2, F_=96, L=2, eps=1e-5, theta=10000.0)
    randomise(model)
    lengths = [10, 6]
    ids = right_padded(89, lengths, 10)
    logits = model(ids, lengths)
    record(out, "llama", model, {"ids": ids, "lengths": lengths}, logits, next_token_targets(ids, lengths))

    # Encoder–decoder on nn.Transformer, post-norm (the paper's, torch's default) and pre-norm.
    # Teacher forcing: the decoder reads tgt and predicts its next tokens.
    for case, norm_first in (("seq2seq_post", False), ("seq2seq_pre", True)):
        model = Seq2Seq(V=53, E=32, H=4, F_=64, enc=2, dec=3, P=64, norm_first=norm_first)
        model.train()  # dropout is 0; train() keeps torch off its inference fast path
        randomise(model)
        src_lengths, tgt_lengths = [9, 6], [7, 5]
        src, tgt = right_padded(53, src_lengths, 9), right_padded(53, tgt_lengths, 7)
        logits = model(src, src_lengths, tgt, tgt_lengths)
        inputs = {"src": src, "src_lengths": src_lengths, "tgt": tgt, "tgt_lengths": tgt_lengths}
        record(out, case, model, inputs, logits, next_token_targets(tgt, tgt_lengths))

    save(path, out)


if __name__ == "__main__":
    main()
