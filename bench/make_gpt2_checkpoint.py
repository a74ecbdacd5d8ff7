#!/usr/bin/python3
"""A GPT-2 small (124,439,808 parameters) with random weights, in two on-disk forms, for
measuring how fast and how lean `attend` loads a real-sized model (no network here, so no
real checkpoint):

  OUT/hf/      a Hugging Face folder as GPT2LMHeadModel.save_pretrained writes it:
               config.json, model.safetensors under "transformer." names, Conv1D weights
               in (in, out) layout, q|k|v packed into attn.c_attn — what attend re-lays out.
  OUT/attend/  attend's own checkpoint (what save_model writes for a folder): our names,
               nn.Linear (out, in) layout, the config in the safetensors metadata
               "attend_config" and again in config.json — what attend maps in place.

Both hold the same weights, so the two loads must give the same model (generate greedily
from both and compare). GPT-2's BPE files (encoder.json, vocab.bpe) are copied beside each
so `attend generate` finds the tokenizer.

Usage: /usr/bin/python3 bench/make_gpt2_checkpoint.py --out /tmp/gpt2_small [--bpe ../shared/data/gpt2_bpe_openai]
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

V, P, E, L, F = 50257, 1024, 768, 12, 3072  # vocab, positions, width, layers, d_ff


def write_safetensors(path, tensors, metadata):
    """safetensors: u64 header length, JSON header, raw little-endian data (8-byte aligned)."""
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    names = sorted(tensors)
    for name in names:
        t = tensors[name]
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((-len(text) - 8) % 8)  # data starts 8-byte aligned, as the format advises
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for name in names:
            f.write(np.ascontiguousarray(tensors[name], dtype="<f4").tobytes())
    os.replace(tmp, path)


def hf_weights(seed):
    """GPT2LMHeadModel's state dict (the tied lm_head left out, as save_pretrained does)."""
    rng = np.random.default_rng(seed)

    def normal(*shape, std=0.02):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)

    w = {"transformer.wte.weight": normal(V, E), "transformer.wpe.weight": normal(P, E, std=0.01)}
    for l in range(L):
        h = f"transformer.h.{l}."
        w[h + "ln_1.weight"] = 1 + normal(E)
        w[h + "ln_1.bias"] = normal(E)
        w[h + "attn.c_attn.weight"] = normal(E, 3 * E)  # Conv1D: (in, out), columns q | k | v
        w[h + "attn.c_attn.bias"] = normal(3 * E)
        w[h + "attn.c_proj.weight"] = normal(E, E, std=0.02 / np.sqrt(2 * L))
        w[h + "attn.c_proj.bias"] = normal(E)
        w[h + "ln_2.weight"] = 1 + normal(E)
        w[h + "ln_2.bias"] = normal(E)
        w[h + "mlp.c_fc.weight"] = normal(E, F)
        w[h + "mlp.c_fc.bias"] = normal(F)
        w[h + "mlp.c_proj.weight"] = normal(F, E, std=0.02 / np.sqrt(2 * L))
        w[h + "mlp.c_proj.bias"] = normal(E)
    w["transformer.ln_f.weight"] = 1 + normal(E)
    w["transformer.ln_f.bias"] = normal(E)
    return w


def attend_weights(hf):
    """The same weights under attend's names and nn.Linear's (out, in) layout
    (the inverse of io/hf_names.cpp's convert_gpt2)."""
    ours = {"embeddings.token.weight": hf["transformer.wte.weight"],
            "embeddings.position.weight": hf["transformer.wpe.weight"]}
    for l in range(L):
        h, o = f"transformer.h.{l}.", f"layers.{l}."
        w, b = hf[h + "attn.c_attn.weight"], hf[h + "attn.c_attn.bias"]
        for i, name in enumerate(["q_proj", "k_proj", "v_proj"]):
            ours[o + f"self_attn.{name}.weight"] = w[:, i * E:(i + 1) * E].T
            ours[o + f"self_attn.{name}.bias"] = b[i * E:(i + 1) * E]
        ours[o + "self_attn.out_proj.weight"] = hf[h + "attn.c_proj.weight"].T
        ours[o + "self_attn.out_proj.bias"] = hf[h + "attn.c_proj.bias"]
        ours[o + "self_attn_norm.weight"] = hf[h + "ln_1.weight"]
        ours[o + "self_attn_norm.bias"] = hf[h + "ln_1.bias"]
        ours[o + "ff.linear1.weight"] = hf[h + "mlp.c_fc.weight"].T
        ours[o + "ff.linear1.bias"] = hf[h + "mlp.c_fc.bias"]
        ours[o + "ff.linear2.weight"] = hf[h + "mlp.c_proj.weight"].T
        ours[o + "ff.linear2.bias"] = hf[h + "mlp.c_proj.bias"]
        ours[o + "ff_norm.weight"] = hf[h + "ln_2.weight"]
        ours[o + "ff_norm.bias"] = hf[h + "ln_2.bias"]
    ours["norm.weight"] = hf["transformer.ln_f.weight"]
    ours["norm.bias"] = hf["transformer.ln_f.bias"]
    return ours


# openai-community/gpt2's config.json (the fields attend reads, and the usual rest).
HF_CONFIG = {
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
    "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": P, "n_embd": E, "n_head": 12,
    "n_inner": None, "n_layer": L, "n_positions": P, "reorder_and_upcast_attn": False, "resid_pdrop": 0.1,
    "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True, "torch_dtype": "float32",
    "vocab_size": V,
}

# config_to_json(gpt2_small()) (io/config_json.cpp): every field, model_type "attend".
ATTEND_CONFIG = {
    "model_type": "attend", "shape": "decoder", "head": "lm", "vocab_size": V, "d_model": E, "n_layers": L,
    "n_encoder_layers": 0, "n_heads": 12, "n_kv_heads": 0, "d_ff": F, "max_positions": P, "type_vocab_size": 0,
    "norm": "layer_norm", "norm_placement": "pre", "final_norm": True, "embedding_norm": False,
    "norm_eps": float(np.float32(1e-5)), "activation": "gelu_tanh", "positions": "learned",
    "rope_layout": "rotate_half", "rope_theta": 10000.0, "bias": True, "tie_embeddings": True,
    "dropout": float(np.float32(0.1)), "attention_dropout": float(np.float32(0.1)), "embedding_scale": 1.0,
    "n_classes": 0, "init": "normal", "init_std": float(np.float32(0.02)), "init_scale_residual": True,
    "name": "gpt2_small",
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder receiving hf/ and attend/")
    ap.add_argument("--bpe", default=os.path.join(here, "..", "..", "shared", "data", "gpt2_bpe_openai"),
                    help="folder with GPT-2's encoder.json and vocab.bpe")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    hf = hf_weights(args.seed)
    n = sum(t.size for t in hf.values())
    assert n == 124_439_808, f"{n} parameters, expected GPT-2 small's 124,439,808"
    for sub in ("hf", "attend"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
        for name in ("encoder.json", "vocab.bpe"):
            shutil.copyfile(os.path.join(args.bpe, name), os.path.join(args.out, sub, name))

    hf_dir = os.path.join(args.out, "hf")
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump(HF_CONFIG, f, indent=2)
    write_safetensors(os.path.join(hf_dir, "model.safetensors"), hf, {"format": "pt"})

    attend_dir = os.path.join(args.out, "attend")
    config_text = json.dumps(ATTEND_CONFIG)
    write_safetensors(os.path.join(attend_dir, "model.safetensors"), attend_weights(hf),
                      {"attend_config": config_text})
    with open(os.path.join(attend_dir, "config.json"), "w") as f:
        json.dump(ATTEND_CONFIG, f, indent=2)
    print(f"{n:,} parameters ({4 * n:,} bytes of f32) written to {hf_dir} and {attend_dir}")


if __name__ == "__main__":
    main()
