"""GGUF files written by an independent writer (struct + numpy, from the format's published
description, not attend's code nor the `gguf` package), and what reading them must give.

Writes, beside --out:
  gguf_llama.gguf  v3, general.alignment 64: a tiny llama (GQA, untied output) whose tensors use
                   every type attend reads: F32, F16, BF16, Q8_0, Q4_0; q/k rows in Meta's
                   interleaved pair order, as llama.cpp stores them
  gguf_gpt2.gguf   v2, default alignment: a tiny GPT-2 (fused attn_qkv, tied output), F32 and F16
and --out (safetensors): every tensor as the decoding of those bytes gives it ("<file>/<tensor>",
attend's shape), and the logits of a numpy forward pass of each model over TOKENS
("<file>/logits", (T, vocab)), computed in float64 from those decoded weights.
"""
import os
import struct

import numpy as np
import torch

from _common import output_path, save

TOKENS = [1, 5, 9, 2, 17, 33, 4, 60]

# GGUF value types and ggml tensor types (the format's numbering).
U8, I8, U16, I16, U32, I32, F32V, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
GGML = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "BF16": 30}


class Writer:
    def __init__(self, version=3, alignment=32):
        self.version, self.alignment = version, alignment
        self.kv, self.tensors = [], []  # (encoded kv), (name, shape, type, raw bytes)

    @staticmethod
    def _str(s):
        b = s.encode()
        return struct.pack("<Q", len(b)) + b

    def add(self, key, vtype, value):
        out = self._str(key) + struct.pack("<I", vtype)
        if vtype == ARRAY:
            etype, items = value
            out += struct.pack("<IQ", etype, len(items))
            for item in items:
                out += self._scalar(etype, item)
        else:
            out += self._scalar(vtype, value)
        self.kv.append(out)

    def _scalar(self, t, v):
        if t == STRING:
            return self._str(v)
        fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32V: "f", BOOL: "?", U64: "Q", I64: "q",
               F64: "d"}[t]
        return struct.pack("<" + fmt, v)

    def tensor(self, name, shape, gtype, raw):
        self.tensors.append((name, shape, gtype, raw))

    def write(self, path):
        pad = lambda n: (n + self.alignment - 1) // self.alignment * self.alignment
        head = b"GGUF" + struct.pack("<IQQ", self.version, len(self.tensors), len(self.kv)) + b"".join(self.kv)
        offset, blobs = 0, []
        for name, shape, gtype, raw in self.tensors:
            offset = pad(offset)
            dims = list(reversed(shape))  # GGUF lists the innermost dimension first
            head += self._str(name) + struct.pack("<I", len(dims)) + struct.pack("<%dQ" % len(dims), *dims)
            head += struct.pack("<IQ", GGML[gtype], offset)
            blobs.append((offset, raw))
            offset += len(raw)
        data = bytearray(offset)
        for at, raw in blobs:
            data[at:at + len(raw)] = raw
        with open(path + ".tmp", "wb") as f:
            f.write(head + b"\0" * (pad(len(head)) - len(head)) + bytes(data))
        os.replace(path + ".tmp", path)


def encode(x, gtype):
    """(raw bytes, the f32 values those bytes decode to) for x (rows, cols) or (n,)."""
    x = np.asarray(x, np.float32)
    if gtype == "F32":
        return x.tobytes(), x
    if gtype == "F16":
        h = x.astype(np.float16)
        return h.tobytes(), h.astype(np.float32)
    if gtype == "BF16":
        bits = (x.view(np.uint32) >> 16).astype(np.uint16)  # truncation: any bf16 is fine to store
        return bits.tobytes(), (bits.astype(np.uint32) << 16).view(np.float32)
    blocks = x.reshape(-1, 32)
    raw, values = bytearray(), []
    for b in blocks:
        if gtype == "Q8_0":
            d = np.float16(np.abs(b).max() / 127.0)
            q = np.zeros(32, np.int8) if d == 0 else np.clip(np.rint(b / np.float32(d)), -127, 127).astype(np.int8)
            raw += d.tobytes() + q.tobytes()
            values.append(np.float32(d) * q.astype(np.float32))
        else:  # Q4_0: d from the value of largest magnitude, which maps to -8
            m = b[np.argmax(np.abs(b))]
            d = np.float16(m / -8.0)
            q = np.full(32, 8) if d == 0 else np.clip(np.rint(b / np.float32(d)) + 8, 0, 15).astype(np.int64)
            raw += d.tobytes() + bytes(int(q[j]) | (int(q[j + 16]) << 4) for j in range(16))
            values.append(np.float32(d) * (q - 8).astype(np.float32))
    return bytes(raw), np.concatenate(values).reshape(x.shape).astype(np.float32)


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def attention(q, k, v):
    """q (H, T, D), k/v (Hkv, T, D): causal softmax attention, kv heads shared by H/Hkv heads."""
    rep = q.shape[0] // k.shape[0]
    k, v = np.repeat(k, rep, 0), np.repeat(v, rep, 0)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    T = q.shape[1]
    s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


def rope_pairs(x, theta):
    """x (H, T, D), rotating the pairs (2i, 2i + 1) by t · theta^(-2i/D)."""
    H, T, D = x.shape
    freq = theta ** (-np.arange(0, D, 2) / D)  # (D/2)
    ang = np.arange(T)[:, None] * freq[None, :]  # (T, D/2)
    cos, sin = np.cos(ang), np.sin(ang)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def llama_file(path, rng, expected):
    V, E, H, HKV, F, L, CTX, EPS, THETA = 64, 64, 4, 2, 96, 2, 32, 1e-5, 10000.0
    D = E // H
    w = Writer(version=3, alignment=64)
    w.add("general.architecture", STRING, "llama")
    w.add("general.alignment", U32, 64)
    w.add("general.name", STRING, "tiny-llama-ref")
    for key, vtype, value in [("context_length", U32, CTX), ("embedding_length", U32, E), ("block_count", U32, L),
                              ("feed_forward_length", U32, F), ("attention.head_count", U32, H),
                              ("attention.head_count_kv", U32, HKV), ("rope.dimension_count", U32, D),
                              ("attention.layer_norm_rms_epsilon", F32V, EPS), ("rope.freq_base", F32V, THETA)]:
        w.add("llama." + key, vtype, value)
    w.add("tokenizer.ggml.bos_token_id", U32, 1)
    w.add("tokenizer.ggml.eos_token_id", U32, 2)
    w.add("test.i8s", ARRAY, (I8, [-3, 7]))
    w.add("test.u64", U64, 1 << 40)
    w.add("test.f64", F64, 0.25)
    w.add("test.strings", ARRAY, (STRING, ["a", "", "ünï"]))
    weights = {}

    def put(name, shape, gtype, scale=0.3, offset=0.0):
        raw, decoded = encode(rng.standard_normal(shape).astype(np.float32) * scale + offset, gtype)
        w.tensor(name, list(shape), gtype, raw)
        expected["gguf_llama/" + name] = torch.from_numpy(decoded.copy())
        weights[name] = decoded.astype(np.float64)

    put("token_embd.weight", (V, E), "Q8_0", 1.0)
    for l in range(L):
        b = "blk.%d." % l
        put(b + "attn_norm.weight", (E,), "F32", 0.2, 1.0)
        put(b + "attn_q.weight", (E, E), "F16")
        put(b + "attn_k.weight", (HKV * D, E), "BF16")
        put(b + "attn_v.weight", (HKV * D, E), "Q4_0")
        put(b + "attn_output.weight", (E, E), "F32")
        put(b + "ffn_norm.weight", (E,), "F32", 0.2, 1.0)
        put(b + "ffn_gate.weight", (F, E), "Q8_0")
        put(b + "ffn_up.weight", (F, E), "Q4_0")
        put(b + "ffn_down.weight", (E, F), "F16")
    put("output_norm.weight", (E,), "F32", 0.2, 1.0)
    put("output.weight", (V, E), "Q8_0")
    w.write(path)

    x = weights["token_embd.weight"][TOKENS]  # (T, E)
    T = len(TOKENS)
    for l in range(L):
        g = lambda n: weights["blk.%d.%s.weight" % (l, n)]
        h = rms_norm(x, g("attn_norm"), EPS)
        q = (h @ g("attn_q").T).reshape(T, H, D).transpose(1, 0, 2)
        k = (h @ g("attn_k").T).reshape(T, HKV, D).transpose(1, 0, 2)
        v = (h @ g("attn_v").T).reshape(T, HKV, D).transpose(1, 0, 2)
        a = attention(rope_pairs(q, THETA), rope_pairs(k, THETA), v).transpose(1, 0, 2).reshape(T, E)
        x = x + a @ g("attn_output").T
        h = rms_norm(x, g("ffn_norm"), EPS)
        gate = h @ g("ffn_gate").T
        x = x + ((gate / (1 + np.exp(-gate))) * (h @ g("ffn_up").T)) @ g("ffn_down").T
    x = rms_norm(x, weights["output_norm.weight"], EPS)
    expected["gguf_llama/logits"] = torch.from_numpy(x @ weights["output.weight"].T)


def gpt2_file(path, rng, expected):
    V, E, H, F, L, CTX, EPS = 64, 32, 2, 64, 2, 16, 1e-5
    w = Writer(version=2)
    w.add("general.architecture", STRING, "gpt2")
    for key, vtype, value in [("context_length", U32, CTX), ("embedding_length", U32, E), ("block_count", U32, L),
                              ("feed_forward_length", U32, F), ("attention.head_count", U32, H),
                              ("attention.layer_norm_epsilon", F32V, EPS)]:
        w.add("gpt2." + key, vtype, value)
    weights = {}

    def put(name, shape, gtype="F32", scale=0.3, offset=0.0):
        raw, decoded = encode(rng.standard_normal(shape).astype(np.float32) * scale + offset, gtype)
        w.tensor(name, list(shape), gtype, raw)
        expected["gguf_gpt2/" + name] = torch.from_numpy(decoded.copy())
        weights[name] = decoded.astype(np.float64)

    put("token_embd.weight", (V, E), "F16", 1.0)
    put("position_embd.weight", (CTX, E), "F32", 0.1)
    for l in range(L):
        b = "blk.%d." % l
        put(b + "attn_norm.weight", (E,), offset=1.0)
        put(b + "attn_norm.bias", (E,), scale=0.1)
        put(b + "attn_qkv.weight", (3 * E, E), "F16")
        put(b + "attn_qkv.bias", (3 * E,), scale=0.1)
        put(b + "attn_output.weight", (E, E))
        put(b + "attn_output.bias", (E,), scale=0.1)
        put(b + "ffn_norm.weight", (E,), offset=1.0)
        put(b + "ffn_norm.bias", (E,), scale=0.1)
        put(b + "ffn_up.weight", (F, E), "F16")
        put(b + "ffn_up.bias", (F,), scale=0.1)
        put(b + "ffn_down.weight", (E, F))
        put(b + "ffn_down.bias", (E,), scale=0.1)
    put("output_norm.weight", (E,), offset=1.0)
    put("output_norm.bias", (E,), scale=0.1)
    w.write(path)

    T = len(TOKENS)
    x = weights["token_embd.weight"][TOKENS] + weights["position_embd.weight"][:T]
    for l in range(L):
        g = lambda n: weights["blk.%d.%s" % (l, n)]
        h = layer_norm(x, g("attn_norm.weight"), g("attn_norm.bias"), EPS)
        qkv = h @ g("attn_qkv.weight").T + g("attn_qkv.bias")
        q, k, v = (qkv[:, i * E:(i + 1) * E].reshape(T, H, E // H).transpose(1, 0, 2) for i in range(3))
        x = x + attention(q, k, v).transpose(1, 0, 2).reshape(T, E) @ g("attn_output.weight").T + g("attn_output.bias")
        h = layer_norm(x, g("ffn_norm.weight"), g("ffn_norm.bias"), EPS)
        u = h @ g("ffn_up.weight").T + g("ffn_up.bias")
        u = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
        x = x + u @ g("ffn_down.weight").T + g("ffn_down.bias")
    x = layer_norm(x, weights["output_norm.weight"], weights["output_norm.bias"], EPS)
    expected["gguf_gpt2/logits"] = torch.from_numpy(x @ weights["token_embd.weight"].T)  # tied


def main():
    out = output_path()
    folder = os.path.dirname(out)
    rng = np.random.default_rng(1234)
    expected = {}
    llama_file(os.path.join(folder, "gguf_llama.gguf"), rng, expected)
    gpt2_file(os.path.join(folder, "gguf_gpt2.gguf"), rng, expected)
    save(out, expected, {"tokens": " ".join(map(str, TOKENS))})


if __name__ == "__main__":
    main()
