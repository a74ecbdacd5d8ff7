"""PyTorch 1.13 reference for every op in include/attend/ops.hpp (tests/test_ops_parity.cpp).

For each case: seeded inputs `<case>.in<k>`, the output(s) `<case>.out<j>`, a random upstream
gradient `<case>.dout<j>` and the gradient of every differentiable input `<case>.grad<k>`.
Integer arguments (token ids, targets) are stored as float tensors `<case>.ids` / `<case>.targets`.
Everything is computed in float32 with torch's own kernels, except where a case says
float64: there torch's float32 kernel is itself further than 1e-5 from the exact answer.
"""
import math

import torch
import torch.nn.functional as F

from _common import output_path, save

torch.manual_seed(0)
tensors = {}


def case(name, fn, inputs, grads=None, dtype=torch.float32):
    """inputs: list of float32 tensors; grads: which of them get a gradient (default: all)."""
    grads = grads if grads is not None else [True] * len(inputs)
    leaves = [t.detach().to(dtype).requires_grad_(g) for t, g in zip(inputs, grads)]
    outs = fn(*leaves)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    douts = [torch.randn_like(o).float().to(o.dtype) for o in outs]  # exactly what is saved
    torch.autograd.backward(outs, douts)
    for k, t in enumerate(inputs):
        tensors[f"{name}.in{k}"] = t
        if grads[k]:
            tensors[f"{name}.grad{k}"] = leaves[k].grad
    for j, (o, d) in enumerate(zip(outs, douts)):
        tensors[f"{name}.out{j}"] = o
        tensors[f"{name}.dout{j}"] = d


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def positive(*shape):
    return torch.rand(*shape, dtype=torch.float32) * 1.5 + 0.5  # [0.5, 2)


# ---- linear algebra ----
case("matmul", lambda a, b: a @ b, [randn(3, 5, 4), randn(3, 4, 6)])
case("matmul_broadcast", lambda a, b: a @ b, [randn(2, 1, 5, 4), randn(3, 4, 6)])
case("matmul_2d_rhs", lambda a, b: a @ b, [randn(2, 3, 5, 4), randn(4, 6)])
case("matmul_transposed", lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2),
     [randn(2, 4, 5), randn(2, 6, 4)])
case("linear", lambda x, w, b: F.linear(x, w, b), [randn(2, 5, 8), randn(6, 8), randn(6)])
case("linear_nobias", lambda x, w: F.linear(x, w), [randn(2, 5, 8), randn(6, 8)])

# ---- elementwise with broadcasting ----
case("add", torch.add, [randn(2, 3, 4), randn(3, 1)])
case("sub", torch.sub, [randn(2, 1, 4), randn(3, 4)])
case("mul", torch.mul, [randn(2, 3, 4), randn(4)])
case("div", torch.div, [randn(2, 3, 4), positive(2, 1, 4)])
case("scale", lambda x: x * 0.37, [randn(3, 5)])
case("add_scalar", lambda x: x + 1.25, [randn(3, 5)])
case("neg", torch.neg, [randn(3, 5)])
case("exp", torch.exp, [randn(3, 5)])
case("log", torch.log, [positive(3, 5)])
case("sqrt", torch.sqrt, [positive(3, 5)])
case("tanh", torch.tanh, [randn(3, 5)])

# ---- reductions ----
case("sum", torch.sum, [randn(3, 4, 5)])
case("sum_dim", lambda x: x.sum(dim=1), [randn(3, 4, 5)])
case("sum_dim_keepdim", lambda x: x.sum(dim=-1, keepdim=True), [randn(3, 4, 5)])
case("mean", torch.mean, [randn(3, 4, 5)])
case("mean_dim", lambda x: x.mean(dim=0), [randn(3, 4, 5)])
case("max_dim", lambda x: x.max(dim=1).values, [randn(3, 7, 5)])

# ---- softmax family ----
case("softmax", lambda x: torch.softmax(x, -1), [randn(4, 16)])
case("softmax_dim1", lambda x: torch.softmax(x, 1), [randn(2, 5, 3)])
case("softmax_large", lambda x: torch.softmax(x, -1), [randn(4, 32) * 1e4])  # ±1e4 logits
masked = randn(4, 8)
masked[0, 3] = -math.inf  # partly masked rows, never a full one (torch gives NaN there)
masked[1, :7] = -math.inf
masked[2, ::2] = -math.inf
case("softmax_masked", lambda x: torch.softmax(x, -1), [masked])
case("log_softmax", lambda x: torch.log_softmax(x, -1), [randn(4, 16)])
case("log_softmax_dim0", lambda x: torch.log_softmax(x, 0), [randn(6, 3)])
case("log_softmax_large", lambda x: torch.log_softmax(x, -1), [randn(4, 32) * 1e4])

# ---- normalisation ----
case("layer_norm", lambda x, w, b: F.layer_norm(x, (64,), w, b, 1e-5),
     [randn(3, 7, 64), 1 + 0.1 * randn(64), 0.1 * randn(64)])
# |mean| >> std: torch's float32 layer_norm is 5e-4 from exact here (ours ~1e-7), so the
# reference is the same function in float64.
case("layer_norm_offset", lambda x, w, b: F.layer_norm(x, (64,), w, b, 1e-5),
     [100 + 0.01 * randn(3, 7, 64), 1 + 0.1 * randn(64), 0.1 * randn(64)], dtype=torch.float64)
case("layer_norm_nobias", lambda x, w: F.layer_norm(x, (64,), w, None, 1e-5), [randn(3, 7, 64), randn(64)])
case("layer_norm_plain", lambda x: F.layer_norm(x, (64,), None, None, 1e-5), [randn(3, 7, 64)])


def rms_norm(x, w, eps=1e-6):  # torch 1.13 has no rms_norm; this is the Llama form
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


case("rms_norm", rms_norm, [randn(3, 7, 64), 1 + 0.1 * randn(64)])

# ---- activations ----
case("gelu", lambda x: F.gelu(x), [randn(3, 7, 64) * 3])
case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [randn(3, 7, 64) * 3])
case("relu", F.relu, [randn(3, 7, 64)])
case("silu", F.silu, [randn(3, 7, 64) * 3])
case("sigmoid", torch.sigmoid, [randn(3, 7, 64) * 3])

# ---- embedding and loss ----
ids = torch.tensor([[1, 4, 4, 9, 0], [3, 3, 3, 7, 2]])
tensors["embedding.ids"] = ids.float()
case("embedding", lambda w: F.embedding(ids, w), [randn(10, 8)])

targets = torch.tensor([3, -100, 0, 9, 5, -100, 2, 2])
tensors["ce_smooth_ignore.targets"] = targets.float()
case("ce_smooth_ignore", lambda x: F.cross_entropy(x, targets, ignore_index=-100, label_smoothing=0.1),
     [randn(8, 10) * 2])
plain_targets = torch.tensor([1, 0, 4, 4, 3, 2])
tensors["ce_plain.targets"] = plain_targets.float()
case("ce_plain", lambda x: F.cross_entropy(x, plain_targets), [randn(6, 5)])
tensors["ce_large.targets"] = plain_targets.float()
case("ce_large", lambda x: F.cross_entropy(x, plain_targets, label_smoothing=0.2), [randn(6, 5) * 1e4])

# ---- dropout: the mask attend::Generator(seed) draws, reproduced here bit for bit ----
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Xoshiro256:  # src/core/random.cpp
    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed, word = splitmix64(seed)
            self.s.append(word)

    def uniform(self):
        s = self.s
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return (result >> 40) * 2.0 ** -24


p = torch.tensor(0.3, dtype=torch.float32).item()  # the float the C++ side compares with
gen = Xoshiro256(1234)
x = randn(4, 6, 5)
keep = torch.tensor([gen.uniform() >= p for _ in range(x.numel())]).reshape(x.shape)
scale = torch.tensor(1.0, dtype=torch.float32) / (1 - torch.tensor(p, dtype=torch.float32))
case("dropout", lambda x: x * keep * scale, [x])

# ---- shape ----
case("concat", lambda a, b, c: torch.cat([a, b, c], 1), [randn(2, 3, 4), randn(2, 1, 4), randn(2, 5, 4)])
case("split", lambda x: torch.split(x, [2, 5, 1], dim=-1), [randn(3, 4, 8)])
B, T, H, D = 2, 5, 4, 3
case("split_heads", lambda x: x.view(B, T, H, D).transpose(1, 2).contiguous(), [randn(B, T, H * D)])
case("merge_heads", lambda x: x.transpose(1, 2).reshape(B, T, H * D), [randn(B, H, T, D)])

# ---- views ----
case("reshape", lambda x: x.transpose(0, 1).reshape(4, -1), [randn(3, 4, 2)])
case("transpose", lambda x: x.transpose(0, 2), [randn(3, 4, 2)])
case("permute", lambda x: x.permute(2, 0, 1), [randn(3, 4, 2)])
case("slice", lambda x: x[:, 1:3], [randn(3, 4, 2)])
case("unsqueeze", lambda x: x.unsqueeze(1), [randn(3, 4)])
case("contiguous", lambda x: x.transpose(0, 1).contiguous(), [randn(3, 4)])
case("squeeze", lambda x: x.squeeze(1), [randn(3, 1, 4)])

# ---- big enough to take the OpenMP paths (and norm's chunked dw / db sums) ----
case("softmax_big", lambda x: torch.softmax(x, -1), [randn(96, 512) * 3])
case("log_softmax_big", lambda x: torch.log_softmax(x, -1), [randn(96, 512) * 3])
case("layer_norm_big", lambda x, w, b: F.layer_norm(x, (1024,), w, b, 1e-5),
     [randn(2, 40, 1024), 1 + 0.1 * randn(1024), 0.1 * randn(1024)])
case("rms_norm_big", rms_norm, [randn(2, 40, 1024), 1 + 0.1 * randn(1024)])
case("gelu_tanh_big", lambda x: F.gelu(x, approximate="tanh"), [randn(2, 40, 1024) * 3])
case("silu_big", F.silu, [randn(2, 40, 1024) * 3])
big_ids = torch.randint(0, 50, (4, 25))
tensors["embedding_big.ids"] = big_ids.float()
case("embedding_big", lambda w: F.embedding(big_ids, w), [randn(50, 768)])
big_targets = torch.randint(0, 500, (80,))
big_targets[::7] = -100
tensors["ce_big.targets"] = big_targets.float()
case("ce_big", lambda x: F.cross_entropy(x, big_targets, ignore_index=-100, label_smoothing=0.1),
     [randn(80, 500) * 2])
gen = Xoshiro256(77)
x = randn(300, 256)
keep = torch.tensor([gen.uniform() >= p for _ in range(x.numel())]).reshape(x.shape)
case("dropout_big", lambda x: x * keep * scale, [x])
case("concat_big", lambda a, b: torch.cat([a, b], 1), [randn(4, 100, 256), randn(4, 60, 256)])
B, T, H, D = 2, 70, 8, 64
case("split_heads_big", lambda x: x.view(B, T, H, D).transpose(1, 2).contiguous(), [randn(B, T, H * D)])
case("merge_heads_big", lambda x: x.transpose(1, 2).reshape(B, T, H * D), [randn(B, H, T, D)])

# ---- the vector kernels: dense sweeps (their length not a multiple of 16, so tails run) and
# rows of odd length. torch's own float GELU loses relative accuracy for x << 0 (1 + erf and
# 1 + tanh cancel), but only ~ulp(1)·|x| absolute, far inside the tolerance on this scale.
sweep = torch.linspace(-10, 10, 20001, dtype=torch.float32)
case("gelu_sweep", lambda x: F.gelu(x), [sweep])
case("gelu_tanh_sweep", lambda x: F.gelu(x, approximate="tanh"), [sweep])
case("silu_sweep", F.silu, [sweep * 2])
case("sigmoid_sweep", torch.sigmoid, [sweep * 2])
case("gelu_big", lambda x: F.gelu(x), [randn(2, 40, 1024) * 3])
case("softmax_odd", lambda x: torch.softmax(x, -1), [randn(6, 37) * 3])
case("log_softmax_odd", lambda x: torch.log_softmax(x, -1), [randn(6, 37) * 3])
case("layer_norm_odd", lambda x, w, b: F.layer_norm(x, (37,), w, b, 1e-5),
     [randn(3, 5, 37), 1 + 0.1 * randn(37), 0.1 * randn(37)])
case("rms_norm_odd", rms_norm, [randn(3, 5, 37), 1 + 0.1 * randn(37)])
case("add_bias", torch.add, [randn(2, 3, 37), randn(37)])
case("add_bias_left", torch.add, [randn(1, 37), randn(2, 3, 37)])
case("add_bias_big", torch.add, [randn(4, 64, 768), randn(768)])

save(output_path(), tensors, {"torch": torch.__version__})
