"""Real Hugging Face folders through the HF-structured reference modules of models.py.

gpt2_fake_hf (GPT2LMHeadModel, 1 layer, n_embd 2) and bert_tiniest_hf (BertLMHeadModel, hidden
4, 1 layer; without is_decoder it is the bidirectional BERT of BertForMaskedLM) were written by
transformers' save_pretrained. Their model.safetensors is read here with a small reader of our
own (Debian's torch has no safetensors package), loaded into models.py's GPT2LMHeadModel and
BertForMaskedLM by their HF names, and run in float64 on a padded batch. The C++ side loads the
same folders through attend::load_model and must agree.

Writes, under "gpt2." and "bert.": ids, lengths (and token_types), logits."""
import json
import os
import struct
import sys

import torch

from _common import output_path, save
from models import F64, BertForMaskedLM, GPT2LMHeadModel

DATA = os.environ.get("ATTEND_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", f"{path}: {name} is {entry['dtype']}"
        begin, end = entry["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(entry["shape"]).to(F64)
    return out


def load_into(model, tensors, tied):
    """Loads by name; the only parameter the file may lack is the tied head (save_pretrained
    drops it), and the file may hold nothing the model does not take."""
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert set(missing) <= {tied}, f"missing {missing}"
    assert not unexpected, f"unexpected {unexpected}"


def folder(name):
    path = os.path.join(DATA, name)
    if not os.path.exists(os.path.join(path, "config.json")):
        sys.exit(f"hf_models.py: {path}/config.json is missing (shared data folder {DATA})")
    return path, json.load(open(os.path.join(path, "config.json")))


def main():
    out_path = output_path()
    torch.manual_seed(0)
    out = {}

    path, c = folder("gpt2_fake_hf")
    model = GPT2LMHeadModel(V=c["vocab_size"], P=c["n_positions"], E=c["n_embd"], L=c["n_layer"], H=c["n_head"],
                            eps=c["layer_norm_epsilon"])
    load_into(model, read_safetensors(os.path.join(path, "model.safetensors")), "lm_head.weight")
    lengths = [12, 7]
    ids = torch.randint(0, c["vocab_size"], (2, 12))
    ids[1, 7:] = c["eos_token_id"]  # padding; its value must not matter
    with torch.no_grad():
        logits = model(ids, lengths)
    out.update({"gpt2.ids": ids.to(F64), "gpt2.lengths": torch.tensor(lengths, dtype=F64), "gpt2.logits": logits})

    path, c = folder("bert_tiniest_hf")
    model = BertForMaskedLM(V=c["vocab_size"], P=c["max_position_embeddings"], types=c["type_vocab_size"],
                            E=c["hidden_size"], H=c["num_attention_heads"], F_=c["intermediate_size"],
                            L=c["num_hidden_layers"], eps=c["layer_norm_eps"])
    load_into(model, read_safetensors(os.path.join(path, "model.safetensors")), "cls.predictions.decoder.weight")
    lengths = [10, 6]
    ids = torch.randint(1, c["vocab_size"], (2, 10))
    ids[:, 0] = 101  # [CLS]
    ids[1, 6:] = c["pad_token_id"]
    token_types = torch.zeros_like(ids)
    token_types[0, 5:] = 1
    with torch.no_grad():
        logits = model(ids, token_types, lengths)
    out.update({"bert.ids": ids.to(F64), "bert.lengths": torch.tensor(lengths, dtype=F64),
                "bert.token_types": token_types.to(F64), "bert.logits": logits})
    save(out_path, out)


if __name__ == "__main__":
    main()
