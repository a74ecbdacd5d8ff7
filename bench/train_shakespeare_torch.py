"""nanoGPT's CPU recipe for shakespeare_char in PyTorch, for wall-time comparison with
`attend train` (same model shape, data split, schedule and optimizer):

  4 layers, 4 heads, 128 dim, block 64, batch 12, 2000 iterations, lr 1e-3 (min 1e-4,
  warm-up 100, cosine to the end), AdamW β=(0.9, 0.99), weight decay 0.1 on matrices,
  grad clip 1.0, dropout 0, pre-norm GPT with a tied head, GELU, learned positions.

  /usr/bin/python3 bench/train_shakespeare_torch.py --data ../shared/data/tinyshakespeare/input.txt \
      --threads 2 [--steps 2000]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_threads import set_threads  # torch and its OpenBLAS, both


class Block(nn.Module):
    def __init__(self, E, H):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(E), nn.LayerNorm(E)
        self.c_attn, self.c_proj = nn.Linear(E, 3 * E), nn.Linear(E, E)
        self.fc, self.proj = nn.Linear(E, 4 * E), nn.Linear(4 * E, E)
        self.H = H

    def forward(self, x):
        B, T, E = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(E, dim=2)
        q, k, v = (t.view(B, T, self.H, E // self.H).transpose(1, 2) for t in (q, k, v))
        w = (q @ k.transpose(-1, -2)) / math.sqrt(E // self.H)
        w = w.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        y = (torch.softmax(w, dim=-1) @ v).transpose(1, 2).reshape(B, T, E)
        x = x + self.c_proj(y)
        return x + self.proj(F.gelu(self.fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, V, T, E, L, H):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, E), nn.Embedding(T, E)
        self.h = nn.ModuleList([Block(E, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(E)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled residual projections
            if name.endswith("c_proj.weight") or name.endswith("proj.weight") and ".fc" not in name:
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))[None]
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-iters", type=int, default=200)
    args = ap.parse_args()
    set_threads(args.threads)
    torch.manual_seed(1337)
    text = open(args.data, encoding="utf-8").read()
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text] if len(text) < 1000 else
                        list(map({c: i for i, c in enumerate(chars)}.__getitem__, text)), dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    B, T = 12, 64
    model = GPT(len(chars), T, 128, 4, 4)
    decay = [p for n_, p in model.named_parameters() if p.dim() >= 2 and not n_.startswith("w")]
    no_decay = [p for n_, p in model.named_parameters() if not (p.dim() >= 2 and not n_.startswith("w"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))

    def batch(split):
        d = train if split == "train" else val
        ix = torch.randint(len(d) - T, (B,))
        return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + T + 1] for i in ix])

    def lr_at(it, warmup=100, lr=1e-3, min_lr=1e-4):
        if it < warmup:
            return lr * (it + 1) / (warmup + 1)
        return min_lr + 0.5 * (1 + math.cos(math.pi * (it - warmup) / (args.steps - warmup))) * (lr - min_lr)

    start = time.time()
    for it in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = batch("train")
        loss = F.cross_entropy(model(x).view(-1, len(chars)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if it % 200 == 0:
            print(f"step {it}: loss {loss.item():.4f} ({time.time() - start:.1f} s)", flush=True)
    train_time = time.time() - start
    model.eval()
    with torch.no_grad():
        val_loss = sum(F.cross_entropy(model(x).view(-1, len(chars)), y.view(-1)).item()
                       for x, y in (batch("val") for _ in range(args.eval_iters))) / args.eval_iters
    print(f"torch {torch.__version__}, {args.threads} threads: {args.steps} steps in {train_time:.1f} s, "
          f"val loss {val_loss:.4f} ({args.eval_iters} batches)")


if __name__ == "__main__":
    main()
