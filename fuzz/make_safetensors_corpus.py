"""Writes the seed corpus for fuzz/safetensors.cpp: a few tiny valid safetensors files (every
dtype we read, an empty tensor, metadata with our config, an unaligned tensor) and a few
near-misses. Run: python3 fuzz/make_safetensors_corpus.py OUT_DIR (no torch needed)."""
import json
import os
import struct
import sys


def safetensors(entries, metadata=None, pad=True, hole=0):
    """entries: [(name, dtype, shape, raw bytes)] -> file bytes."""
    header, data = {}, b"\0" * hole
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    if pad:
        text += b" " * ((8 - (len(text) + 8) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def raw_file(header, data):
    """A file with exactly this header (it may lie) and data."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    config = {"model_type": "attend", "shape": "decoder", "head": "lm", "vocab_size": 8, "d_model": 4,
              "n_layers": 1, "n_heads": 2, "d_ff": 8, "max_positions": 4, "positions": "learned"}
    seeds = {
        "f32": safetensors([("w", "F32", [2, 3], f32(1, 2, 3, 4, 5, 6)), ("b", "F32", [3], f32(-1, 0, 1))]),
        "halves": safetensors([("h", "F16", [4], struct.pack("<4H", 0x3C00, 0xC000, 0x0001, 0x7C00)),
                               ("bf", "BF16", [2], struct.pack("<2H", 0x3F80, 0xC060))]),
        "empty_and_scalar": safetensors([("e", "F32", [0, 5], b""), ("s", "F32", [], f32(2.5))]),
        "metadata_config": safetensors([("x", "F32", [1], f32(7))], {"format": "pt", "attend_config": json.dumps(config)}),
        "unaligned": safetensors([("x", "F32", [2], f32(1.5, -2))], pad=False, hole=1),
        "int_buffer": safetensors([("ids", "I64", [2], struct.pack("<2q", 3, 4)), ("w", "F32", [1], f32(1))]),
        "overlap": raw_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                             "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, f32(1, 2, 3)),
        "no_tensors": safetensors([], {"format": "pt"}),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
