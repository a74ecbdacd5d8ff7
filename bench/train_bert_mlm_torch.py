"""A small BERT trained with masked-LM on tinyshakespeare (characters) in PyTorch 1.13: the
same recipe as

  attend train --arch bert --data input.txt --layers 4 --heads 4 --dim 128 --block-size 64 \
      --batch-size 12 --steps 2000 --lr 1e-3

(post-norm encoder, LayerNorm on the embeddings, learned positions, GELU, BERT's MLM head with
the decoder tied to the token embeddings; 15% of positions chosen, 80/10/10; AdamW β=(0.9,
0.99), weight decay 0.1 on matrices, warm-up then cosine to lr/10, clip 1.0), for comparing
masked-token accuracy and wall time:

  /usr/bin/python3 bench/train_bert_mlm_torch.py --data ../shared/data/tinyshakespeare/input.txt \
      --threads 2 [--steps 2000] [--norm-first] [--lr 1e-3]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_threads import set_threads  # torch and its OpenBLAS, both


class Bert(nn.Module):
    def __init__(self, V, T, E, L, H, norm_first):
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, E), nn.Embedding(T, E)
        self.emb_norm = nn.LayerNorm(E, eps=1e-12)
        layer = nn.TransformerEncoderLayer(E, H, 4 * E, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=norm_first, layer_norm_eps=1e-12)
        self.encoder = nn.TransformerEncoder(layer, L, norm=nn.LayerNorm(E) if norm_first else None,
                                             enable_nested_tensor=False)
        self.transform, self.transform_norm = nn.Linear(E, E), nn.LayerNorm(E, eps=1e-12)
        self.out_bias = nn.Parameter(torch.zeros(V))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():  # MHA's packed in_proj is not an nn.Linear
            if name.endswith("in_proj_weight"):
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, ids):
        x = self.emb_norm(self.tok(ids) + self.pos(torch.arange(ids.shape[1]))[None])
        h = self.transform_norm(F.gelu(self.transform(self.encoder(x))))
        return h @ self.tok.weight.t() + self.out_bias


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--norm-first", action="store_true")
    ap.add_argument("--eval-iters", type=int, default=200)
    args = ap.parse_args()
    set_threads(args.threads)
    torch.manual_seed(1337)
    text = open(args.data, encoding="utf-8").read()
    chars = ["[PAD]", "[MASK]"] + sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    B, T, V, MASK = 12, 64, len(chars), 1
    model = Bert(V, T, 128, 4, 4, args.norm_first)
    decay = [p for n_, p in model.named_parameters() if p.dim() >= 2 and not n_.startswith(("tok", "pos"))]
    rest = [p for n_, p in model.named_parameters() if not (p.dim() >= 2 and not n_.startswith(("tok", "pos")))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.99))
    most_frequent = torch.bincount(train).argmax()

    def batch(split, gen=None):
        d = train if split == "train" else val
        ix = torch.randint(len(d) - T, (B,), generator=gen)
        x = torch.stack([d[i:i + T] for i in ix])
        chosen = torch.rand(x.shape, generator=gen) < 0.15
        how = torch.rand(x.shape, generator=gen)
        y = torch.where(chosen, x, torch.full_like(x, -100))
        x = torch.where(chosen & (how < 0.8), torch.full_like(x, MASK), x)
        x = torch.where(chosen & (how >= 0.8) & (how < 0.9), torch.randint(V, x.shape, generator=gen), x)
        return x, y

    def lr_at(it, warmup=100):
        lo = args.lr / 10
        if it < warmup:
            return args.lr * (it + 1) / (warmup + 1)
        return lo + 0.5 * (1 + math.cos(math.pi * (it - warmup) / (args.steps - warmup))) * (args.lr - lo)

    def evaluate():
        model.eval()
        gen = torch.Generator().manual_seed(7)
        loss = correct = unigram = total = 0
        with torch.no_grad():
            for _ in range(args.eval_iters):
                x, y = batch("val", gen)
                logits = model(x)
                loss += F.cross_entropy(logits.view(-1, V), y.view(-1)).item()
                m = y != -100
                correct += (logits.argmax(-1)[m] == y[m]).sum().item()
                unigram += (y[m] == most_frequent).sum().item()
                total += m.sum().item()
        model.train()
        return loss / args.eval_iters, correct / total, unigram / total

    start = time.time()
    for it in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = batch("train")
        loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (it + 1) % 500 == 0:
            t = time.time() - start
            vl, acc, uni = evaluate()
            start += time.time() - start - t  # evaluation time is not training time
            print(f"step {it + 1}: val loss {vl:.4f}, masked-token accuracy {100 * acc:.1f}% "
                  f"(unigram {100 * uni:.1f}%) ({t:.1f} s)", flush=True)
    print(f"torch {torch.__version__}, {args.threads} threads: {args.steps} steps in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
