"""Ten AdamW steps held to PyTorch, as llm.c's test_gpt2 does: a tiny GPT-2 and a tiny
seq2seq Transformer (the HF-structured modules of models.py) start from the same weights as
ours, see the same batches and take torch.optim.AdamW steps with nanoGPT's parameter groups
(decay only on ≥2-D weights that are not embeddings), global-norm clipping and the warm-up +
cosine schedule. Computed in float64 from float32-representable values.

Writes, per case ("gpt2", "seq2seq"):
  <case>.param.<torch name>   the initial parameters
  <case>.step<i>.*            the batch of step i (ids/targets, or src/src_lengths/tgt/tgt_lengths/targets)
  <case>.losses               (10,) the loss at each step, before that step's update
  <case>.final.<torch name>   the parameters after the ten steps
"""
import math

import torch
import torch.nn.functional as F

from _common import output_path, save
from models import F64, GPT2LMHeadModel, Seq2Seq, next_token_targets, randomise, right_padded

STEPS = 10
LR, MIN_LR, WARMUP = 1e-2, 1e-3, 3
BETAS, EPS, WEIGHT_DECAY, CLIP = (0.9, 0.95), 1e-8, 0.1, 1.0


def lr_at(step):  # nanoGPT's get_lr; decay over all STEPS (as our LrSchedule)
    if step < WARMUP:
        return LR * (step + 1) / (WARMUP + 1)
    ratio = (step - WARMUP) / (STEPS - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (LR - MIN_LR)


def optimizer_for(model, embedding_names):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and name not in embedding_names else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                              {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=BETAS, eps=EPS)


def run(out, case, model, optimizer, batches, loss_of):
    for name, p in model.named_parameters():
        out[f"{case}.param.{name}"] = p.detach().clone()
    losses = []
    for step, batch in enumerate(batches):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        optimizer.zero_grad()
        loss = loss_of(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        losses.append(loss.item())
        for key, value in batch.items():
            out[f"{case}.step{step}.{key}"] = torch.as_tensor(value, dtype=F64)
    out[f"{case}.losses"] = torch.tensor(losses, dtype=F64)
    for name, p in model.named_parameters():
        out[f"{case}.final.{name}"] = p.detach().clone()


def main():
    path = output_path()
    torch.manual_seed(5)
    out = {}

    # GPT-2: 2 layers, E=32, 4 heads, vocabulary 31, blocks of 12.
    model = GPT2LMHeadModel(V=31, P=16, E=32, L=2, H=4, eps=1e-5)
    randomise(model)
    B, T = 3, 12
    batches = []
    for _ in range(STEPS):
        ids = torch.randint(0, 31, (B, T + 1))
        batches.append({"ids": ids[:, :T], "targets": ids[:, 1:]})

    def gpt_loss(b):
        logits = model(b["ids"], [T] * B)
        return F.cross_entropy(logits.reshape(-1, 31), b["targets"].reshape(-1))

    run(out, "gpt2", model, optimizer_for(model, {"transformer.wte.weight", "transformer.wpe.weight"}), batches, gpt_loss)

    # Encoder–decoder on nn.Transformer (pre-norm), padded sources and targets, teacher forcing.
    V = 29
    model = Seq2Seq(V=V, E=32, H=4, F_=64, enc=2, dec=2, P=32, norm_first=True)
    model.train()  # dropout is 0; keeps torch off its inference fast path
    randomise(model)
    batches = []
    for _ in range(STEPS):
        src_lengths = torch.randint(3, 10, (3,)).tolist()
        tgt_lengths = torch.randint(2, 8, (3,)).tolist()
        src, tgt = right_padded(V, src_lengths, max(src_lengths)), right_padded(V, tgt_lengths, max(tgt_lengths))
        batches.append({"src": src, "src_lengths": src_lengths, "tgt": tgt, "tgt_lengths": tgt_lengths,
                        "targets": next_token_targets(tgt, tgt_lengths)})

    def seq2seq_loss(b):
        logits = model(b["src"], b["src_lengths"], b["tgt"], b["tgt_lengths"])
        return F.cross_entropy(logits.reshape(-1, V), b["targets"].reshape(-1), ignore_index=-100)

    run(out, "seq2seq", model, optimizer_for(model, {"embedding.weight"}), batches, seq2seq_loss)
    save(path, out)


if __name__ == "__main__":
    main()
