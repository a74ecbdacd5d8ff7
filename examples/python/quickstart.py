"""attend from Python, step by step (run it with PYTHONPATH=build/python, or after installing).

    /usr/bin/python3 examples/python/quickstart.py [path/to/shared/data]

Each block is a notebook cell: load a model, generate and stream text, look at logits and
perplexity, tokenize, run attention on NumPy arrays, train a tiny model with a callback, and
write the attention maps.
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

import attend

data = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "../shared/data").resolve()

# %% A model and its tokenizer: llama2.c's stories260K (tok512.bin is found beside it).
model = attend.load(str(data / "stories260K" / "stories260K.bin"))
print(model, model.config["d_model"], "wide")

# %% Greedy generation (the same bytes as `attend generate --temperature 0`).
print(model.generate("Once upon a time", max_tokens=40, temperature=0, echo=True))

# %% Sampling, streamed piece by piece; the same seed gives the same story.
for piece in model.stream("Lily wanted", max_tokens=40, temperature=0.8, seed=42):
    print(piece, end="", flush=True)
print()

# %% Several prompts in one batch (prompt i samples with seed + i).
for text in model.generate(["The dog", "A little bird"], max_tokens=20, temperature=0.8, seed=1):
    print(repr(text))

# %% Logits and perplexity.
tok = model.tokenizer
ids = tok.encode("Once upon a time", add_special_tokens=True)  # BOS first
logits = model.logits(ids)                            # (1, T, 512)
print("next token after 'Once upon a time':", repr(tok.decode([int(logits[0, -1].argmax())])))
print("perplexity:", round(model.perplexity("Once upon a time, there was a little girl."), 3))

# %% Tokenizers on their own: GPT-2's, as Hugging Face splits text.
gpt2 = attend.Tokenizer(str(data / "gpt2_bpe_openai"))
print(gpt2.encode("Hello world"), gpt2.tokens("attend from Python"))

# %% Attention on NumPy arrays: softmax(QKᵀ/√d)V, causal, 8 query heads over 2 kv heads.
rng = np.random.default_rng(0)
q = rng.standard_normal((1, 8, 16, 32), dtype=np.float32)
k = rng.standard_normal((1, 2, 16, 32), dtype=np.float32)
v = rng.standard_normal((1, 2, 16, 32), dtype=np.float32)
out, weights = attend.attention(q, k, v, causal=True, return_weights=True)
print("out", out.shape, "weights", weights.shape, "row sums", weights.sum(-1).min().round(5))

# %% Train a tiny character model on Shakespeare, stopping from the callback.
with tempfile.TemporaryDirectory() as run:
    losses = []

    def on_step(step, loss, lr):
        losses.append(loss)
        return step < 20                                # False: stop here (with a checkpoint)

    result = attend.train(data=str(data / "tinyshakespeare" / "input.txt"), out=run, steps=200, layers=1,
                          dim=32, heads=2, block_size=32, batch_size=8, quiet=True, on_step=on_step)
    print(f"{result['steps_done']} steps, loss {losses[0]:.2f} -> {losses[-1]:.2f}")
    print(attend.load(run).generate("ROMEO:", max_tokens=30, temperature=0))

# %% The attention maps of a sentence (PNG heatmaps and the interactive page).
with tempfile.TemporaryDirectory() as out_dir:
    files = attend.viz(model, "Once upon a time", out_dir)
    print("wrote", files["html"], "and", len(files["png"]), "heatmaps")
