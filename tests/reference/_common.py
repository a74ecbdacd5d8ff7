"""Shared helpers for the PyTorch reference scripts: argument parsing and a safetensors
writer (Debian's python3-torch has no safetensors package; the format is simple)."""
import argparse
import json
import os
import struct

import torch


def output_path():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    path = parser.parse_args().out
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return path


def save(path, tensors, metadata=None):
    """Writes {name: tensor} as F32 safetensors, atomically."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - (len(text) + 8) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)
