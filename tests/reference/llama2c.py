"""llama2.c checkpoints in PyTorch: the model of karpathy/llama2.c's model.py, reading the
version-0 .bin that run.c reads, and the tokenizer of run.c's encode/decode.

Written from model.py's structure: RMSNorm, RoPE on (2i, 2i+1) pairs done with complex
numbers (Meta's original apply_rotary_emb, torch.view_as_complex), SwiGLU w2(silu(w1 x) * w3 x),
grouped-query attention by repeat_kv, causal softmax attention, the output layer tied to the
token embedding when the header's vocab_size is positive. Everything in float64, so the saved
numbers are the exact answer to the question our float32 code is asked.

For each shared checkpoint (stories260K, aidreams260K) it writes, under "<model>.":
  text_ids      BOS + encode(TEXT): a real sentence through the model's own tokenizer
  text_logits   logits for text_ids, (1, T, V)
  long_ids      seq_len random ids (every position the model knows, RoPE at its far end)
  long_logits   logits for long_ids
  prompt_ids    BOS + encode("Once upon a time")
  greedy_ids    GREEDY_STEPS argmax tokens after prompt_ids, full recompute each step
  greedy_margin per step, top-1 minus top-2 logit (a tie would make the comparison ill-posed)
and prints the greedy text, decoded as run.c decodes."""
import os
import struct
import sys

import torch
import torch.nn.functional as F

from _common import output_path, save

F64 = torch.float64
DATA = os.environ.get("ATTEND_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
TEXT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
PROMPT = "Once upon a time"
GREEDY_STEPS = 60


# ---------------------------------------------------------------- the checkpoint (run.c's memory_map_weights)
def read_checkpoint(path):
    raw = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    head = dim // n_heads
    kv_dim = dim * n_kv_heads // n_heads
    floats = torch.frombuffer(bytearray(raw[28:]), dtype=torch.float32).to(F64)
    shapes = [("tok_embeddings", (vocab, dim)), ("attention_norm", (n_layers, dim)),
              ("wq", (n_layers, dim, dim)), ("wk", (n_layers, kv_dim, dim)), ("wv", (n_layers, kv_dim, dim)),
              ("wo", (n_layers, dim, dim)), ("ffn_norm", (n_layers, dim)), ("w1", (n_layers, hidden, dim)),
              ("w2", (n_layers, dim, hidden)), ("w3", (n_layers, hidden, dim)), ("norm", (dim,)),
              ("freq_cis_real", (seq_len, head // 2)), ("freq_cis_imag", (seq_len, head // 2))]
    if not shared:
        shapes.append(("output", (vocab, dim)))
    w, offset = {}, 0
    for name, shape in shapes:
        n = 1
        for d in shape:
            n *= d
        w[name] = floats[offset : offset + n].reshape(shape)
        offset += n
    assert offset == floats.numel(), f"{path}: {floats.numel()} floats, layout needs {offset}"
    if shared:
        w["output"] = w["tok_embeddings"]
    args = dict(dim=dim, hidden=hidden, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads, vocab=vocab,
                seq_len=seq_len)
    return args, w


# ---------------------------------------------------------------- model.py
def rms_norm(x, weight, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def precompute_freqs_cis(dim, end, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=F64)[: dim // 2] / dim))
    t = torch.arange(end, dtype=F64)
    return torch.polar(torch.ones(end, dim // 2, dtype=F64), torch.outer(t, freqs))  # e^{i t ω}


def apply_rotary_emb(x, freqs_cis):
    # x (B, T, H, D): pairs (2i, 2i+1) are the real and imaginary parts of one complex number.
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(xc * freqs_cis[None, :, None, :]).flatten(3)


def repeat_kv(x, n_rep):
    B, T, Hkv, D = x.shape
    return x[:, :, :, None, :].expand(B, T, Hkv, n_rep, D).reshape(B, T, Hkv * n_rep, D)


def forward(args, w, ids):
    """ids (B, T) -> logits (B, T, V)."""
    B, T = ids.shape
    H, Hkv, D = args["n_heads"], args["n_kv_heads"], args["dim"] // args["n_heads"]
    freqs = precompute_freqs_cis(D, args["seq_len"] * 2)[:T]
    causal = torch.full((T, T), float("-inf"), dtype=F64).triu(1)
    h = w["tok_embeddings"][ids]
    for l in range(args["n_layers"]):
        x = rms_norm(h, w["attention_norm"][l])
        q = (x @ w["wq"][l].T).view(B, T, H, D)
        k = (x @ w["wk"][l].T).view(B, T, Hkv, D)
        v = (x @ w["wv"][l].T).view(B, T, Hkv, D)
        q, k = apply_rotary_emb(q, freqs), apply_rotary_emb(k, freqs)
        k, v = repeat_kv(k, H // Hkv), repeat_kv(v, H // Hkv)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H, T, D)
        scores = q @ k.transpose(2, 3) / D**0.5 + causal
        o = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, H * D)
        h = h + o @ w["wo"][l].T
        x = rms_norm(h, w["ffn_norm"][l])
        h = h + (F.silu(x @ w["w1"][l].T) * (x @ w["w3"][l].T)) @ w["w2"][l].T
    return rms_norm(h, w["norm"]) @ w["output"].T


# ---------------------------------------------------------------- run.c's tokenizer
def read_tokenizer(path, vocab_size):
    raw = open(path, "rb").read()
    pos = 4  # max_token_length
    vocab, scores = [], []
    for _ in range(vocab_size):
        score, n = struct.unpack("<fi", raw[pos : pos + 8])
        pos += 8
        vocab.append(raw[pos : pos + n])
        scores.append(score)
        pos += n
    return vocab, scores


def encode(vocab, scores, text, bos=True):
    """run.c's encode: BOS, the dummy-prefix space, one token per UTF-8 character (or its bytes
    + 3, the <0xXX> fallback), then merge the best-scored adjacent pair until none merges."""
    index = {tok: i for i, tok in enumerate(vocab)}
    tokens = [1] if bos else []
    if text:
        tokens.append(index[b" "])
    for ch in text:
        b = ch.encode("utf-8")
        if b in index:
            tokens.append(index[b])
        else:
            tokens.extend(byte + 3 for byte in b)
    while True:
        best, best_id, best_i = -1e10, -1, -1
        for i in range(len(tokens) - 1):
            j = index.get(vocab[tokens[i]] + vocab[tokens[i + 1]])
            if j is not None and scores[j] > best:
                best, best_id, best_i = scores[j], j, i
        if best_i == -1:
            return tokens
        tokens[best_i : best_i + 2] = [best_id]


def decode(vocab, ids):
    out, prev = b"", 1
    for t in ids:
        piece = vocab[t]
        if prev == 1 and piece.startswith(b" "):  # run.c strips the space after BOS
            piece = piece[1:]
        if piece.startswith(b"<0x") and piece.endswith(b">") and len(piece) == 6:
            piece = bytes([int(piece[3:5], 16)])
        out += piece
        prev = t
    return out.decode("utf-8", errors="replace")


def greedy(args, w, prompt, steps):
    ids, margins = list(prompt), []
    for _ in range(steps):
        logits = forward(args, w, torch.tensor([ids]))[0, -1]
        top = torch.topk(logits, 2).values
        margins.append(float(top[0] - top[1]))
        ids.append(int(torch.argmax(logits)))
    return ids[len(prompt) :], margins


def main():
    path = output_path()
    torch.manual_seed(0)
    out = {}
    for model, tokenizer in (("stories260K", "tok512.bin"), ("aidreams260K", "tok512.bin")):
        folder = os.path.join(DATA, model)
        checkpoint = os.path.join(folder, model + ".bin")
        if not os.path.exists(checkpoint):
            sys.exit(f"llama2c.py: {checkpoint} is missing (shared data folder {DATA})")
        args, w = read_checkpoint(checkpoint)
        vocab, scores = read_tokenizer(os.path.join(folder, tokenizer), args["vocab"])

        text_ids = torch.tensor([encode(vocab, scores, TEXT)])
        long_ids = torch.randint(0, args["vocab"], (1, args["seq_len"]))
        long_ids[0, 0] = 1
        prompt = encode(vocab, scores, PROMPT)
        with torch.no_grad():
            out[f"{model}.text_ids"] = text_ids.to(F64)
            out[f"{model}.text_logits"] = forward(args, w, text_ids)
            out[f"{model}.long_ids"] = long_ids.to(F64)
            out[f"{model}.long_logits"] = forward(args, w, long_ids)
            generated, margins = greedy(args, w, prompt, GREEDY_STEPS)
        out[f"{model}.prompt_ids"] = torch.tensor(prompt, dtype=F64)
        out[f"{model}.greedy_ids"] = torch.tensor(generated, dtype=F64)
        out[f"{model}.greedy_margin"] = torch.tensor(margins, dtype=F64)
        print(f"{model}: prompt {prompt}, smallest greedy margin {min(margins):.3g}")
        print(f"{model}: {decode(vocab, prompt + generated)!r}")
    save(path, out)


if __name__ == "__main__":
    main()
