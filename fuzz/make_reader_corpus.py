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
