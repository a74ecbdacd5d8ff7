#!/usr/bin/env python3
"""Seed corpora for the reader fuzz targets (fuzz/README.md): one folder per target under OUT.

Small valid files of each format (so the fuzzer starts inside the grammar) and a few broken
ones of the kinds found by hand (a 2^20-layer config, a history of [[1]], an all-zero random
state). Usage: make_reader_corpus.py OUT
"""
import json
import os
import struct
import sys


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(metadata):
    header = json.dumps({"__metadata__": metadata, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
    header += " " * (-(len(header) + 8) % 8)
    return struct.pack("<Q", len(header)) + header.encode() + struct.pack("<f", 1.0)


def llama2c(dim, hidden, layers, heads, kv, vocab, seq):
    head = dim // heads
    kvd = dim * kv // heads
    floats = (abs(vocab) * dim + layers * dim + layers * dim * dim * 2 + 2 * layers * kvd * dim + layers * dim
              + 3 * layers * hidden * dim + dim + 2 * seq * (head // 2) + (abs(vocab) * dim if vocab < 0 else 0))
    return struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq) + b"\0" * (4 * floats)


def gguf(kv, tensors=(), version=3, alignment=32):
    """A GGUF file: kv [(key, type, value)] with type a GGUF value type number (9 = array:
    value (element type, [items])), tensors [(name, dims innermost first, ggml type, raw)]."""
    def s(text):
        b = text.encode()
        return struct.pack("<Q", len(b)) + b

    def scalar(t, v):
        return s(v) if t == 8 else struct.pack("<" + "BbHhIif?" [t] if t < 8 else "<" + {10: "Q", 11: "q", 12: "d"}[t], v)

    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv))
    for key, t, v in kv:
        out += s(key) + struct.pack("<I", t)
        if t == 9:
            out += struct.pack("<IQ", v[0], len(v[1])) + b"".join(scalar(v[0], x) for x in v[1])
        else:
            out += scalar(t, v)
    data, offsets = b"", []
    for name, dims, gtype, raw in tensors:
        data += b"\0" * (-len(data) % alignment)
        offsets.append(len(data))
        data += raw
    for (name, dims, gtype, raw), at in zip(tensors, offsets):
        out += s(name) + struct.pack("<I", len(dims)) + struct.pack("<%dQ" % len(dims), *dims) + struct.pack("<IQ", gtype, at)
    return out + b"\0" * (-len(out) % alignment) + data


def main():
    out = sys.argv[1]
    gpt2 = {"model_type": "gpt2", "vocab_size": 16, "n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 8,
            "bos_token_id": 0, "eos_token_id": 1, "architectures": ["GPT2LMHeadModel"]}
    bert = {"model_type": "bert", "vocab_size": 16, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 16, "max_position_embeddings": 8, "architectures": ["BertForSequenceClassification"],
            "id2label": {"0": "a", "1": "b"}, "pad_token_id": 0}
    llama = {"model_type": "llama", "vocab_size": 16, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
             "num_key_value_heads": 1, "intermediate_size": 16, "max_position_embeddings": 8, "eos_token_id": [1, 2]}
    ours = {"model_type": "attend", "vocab_size": 16, "d_model": 8, "n_layers": 1, "n_heads": 2, "d_ff": 16,
            "max_positions": 8, "positions": "learned"}
    # The Llama family's other members: rope_scaling, windows, biases, head_dim.
    llama3 = dict(llama, rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 4})
    mistral = dict(llama, model_type="mistral", sliding_window=3, head_dim=6)
    qwen2 = dict(llama, model_type="qwen2", tie_word_embeddings=True)
    phi3 = dict(llama, model_type="phi3", original_max_position_embeddings=4,
                rope_scaling={"type": "longrope", "short_factor": [1.0, 2.0], "long_factor": [3.0, 4.0]})
    gemma = dict(llama, model_type="gemma", head_dim=4, hidden_activation="gelu_pytorch_tanh")
    d = os.path.join(out, "hf_config")
    for name, j in [("llama3", llama3), ("mistral", mistral), ("qwen2", qwen2), ("phi3", phi3), ("gemma", gemma)]:
        write(d, name + ".json", json.dumps(j))
    for name, j in [("gpt2", gpt2), ("bert", bert), ("llama", llama), ("ours", ours),
                    ("huge_layers", dict(gpt2, n_layer=1 << 20)), ("huge_vocab", dict(llama, vocab_size=1 << 26))]:
        write(d, name + ".json", json.dumps(j))

    d = os.path.join(out, "safetensors_index")
    write(d, "index.json", json.dumps({"metadata": {"total_size": 8}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                                                  "b": "model-00002-of-00002.safetensors"}}))
    write(d, "escape.json", json.dumps({"weight_map": {"a": "../x.safetensors"}}))

    d = os.path.join(out, "llama2c")
    write(d, "tiny.bin", llama2c(4, 8, 1, 2, 1, 8, 4))
    write(d, "tiny_wcls.bin", llama2c(4, 8, 1, 2, 2, -8, 4))
    write(d, "header_only.bin", struct.pack("<7i", 4, 8, 1, 2, 1, 8, 4))

    d = os.path.join(out, "pairs")
    write(d, "pairs.tsv", "march 3rd 2001\t2001-03-03\nthe first of may, 1999\t1999-05-01\r\n\n")
    write(d, "no_tab.tsv", "a b\n")

    d = os.path.join(out, "token_file")
    write(d, "ok.bin", struct.pack("<H", 512) + struct.pack("<6H", 1, 2, 3, 511, 0, 7))
    write(d, "outside.bin", struct.pack("<H", 10) + struct.pack("<3H", 1, 10, 3))

    d = os.path.join(out, "train_options")
    write(d, "ok.json", json.dumps({"arch": "gpt", "layers": 2, "dim": 32, "lr": 0.001, "seed": 7, "data": "x.txt",
                                    "threads": 1, "dropout": 0.1}))
    write(d, "types.json", json.dumps({"layers": "2", "seed": -1, "lr": [1]}))

    # GGUF (fuzz/gguf.cpp): a tiny model with every tensor type attend decodes, and one
    # vocabulary-only file per tokenizer model (gpt2 needs all 256 byte tokens).
    d = os.path.join(out, "gguf")
    f32 = struct.pack("<32f", *[i / 8 for i in range(32)])
    q8 = struct.pack("<e", 0.5) + bytes(range(32))
    q4 = struct.pack("<e", -0.25) + bytes(range(0, 256, 16))
    half = struct.pack("<32e", *[i / 4 for i in range(32)])
    bf16 = struct.pack("<32H", *[0x3f80 + i for i in range(32)])
    write(d, "model.gguf", gguf([("general.architecture", 8, "llama"), ("general.alignment", 4, 32),
                                 ("llama.block_count", 4, 1), ("llama.rope.freq_base", 6, 10000.0),
                                 ("tokenizer.ggml.add_bos_token", 7, True), ("x.u64s", 9, (10, [1, 2])),
                                 ("x.f64", 12, 0.5), ("x.i16", 3, -2)],
                                [("a", [32], 0, f32), ("b", [32, 1], 8, q8), ("c", [32], 2, q4), ("d", [32], 1, half),
                                 ("e", [32], 30, bf16)]))
    write(d, "v2.gguf", gguf([("general.architecture", 8, "gpt2")], [("a", [32], 0, f32)], version=2))
    byte_tokens = [chr(c) if 33 <= c <= 126 else chr(256 + c) for c in range(256)]
    write(d, "gpt2_vocab.gguf", gguf([("tokenizer.ggml.model", 8, "gpt2"), ("tokenizer.ggml.pre", 8, "gpt-2"),
                                      ("tokenizer.ggml.tokens", 9, (8, byte_tokens + ["he", "<|endoftext|>"])),
                                      ("tokenizer.ggml.token_type", 9, (5, [1] * 257 + [3])),
                                      ("tokenizer.ggml.merges", 9, (8, ["h e"]))]))
    write(d, "spm_vocab.gguf", gguf([("tokenizer.ggml.model", 8, "llama"),
                                     ("tokenizer.ggml.tokens", 9, (8, ["<unk>", "<s>", "</s>", "<0x41>", "\u2581a", "b"])),
                                     ("tokenizer.ggml.scores", 9, (6, [0.0, 0.0, 0.0, 0.0, -1.0, -2.0])),
                                     ("tokenizer.ggml.bos_token_id", 4, 1)]))
    write(d, "bert_vocab.gguf", gguf([("tokenizer.ggml.model", 8, "bert"),
                                      ("tokenizer.ggml.tokens", 9, (8, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "\u2581hi", "s"])),
                                      ("tokenizer.ggml.unknown_token_id", 4, 1), ("tokenizer.ggml.cls_token_id", 4, 2),
                                      ("tokenizer.ggml.seperator_token_id", 4, 3)]))

    d = os.path.join(out, "checkpoint_metadata")
    config = json.dumps(ours)
    meta = {"format": "attend-checkpoint-1", "step": "3", "rng.data": "1 2 3 4", "rng.dropout": "5 6 7 8",
            "arch": "gpt", "attend_config": config, "history": "[[1,2.5,null,0.001]]"}
    write(d, "file.bin", b"\0" + safetensors(meta))
    for i, value in enumerate(["17", "9 8 7 6", config, "seq2seq", "[[1,2.5,2.4,0.001],[2,2.0,null,0.002]]"]):
        write(d, "field%d.bin" % i, bytes([i + 1]) + value.encode())
    write(d, "history_nested.bin", b"\x05[[1]]")
    write(d, "history_types.bin", b'\x05[["1",2,null,3],[null,2,2,3]]')
    write(d, "rng_zero.bin", b"\x020 0 0 0")
    write(d, "step_negative.bin", b"\x01-5")


if __name__ == "__main__":
    main()
