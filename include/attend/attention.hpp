// attention.hpp — the heart of attend: self-attention from the plain dot-product form to
// scaled dot-product attention with masks, on two paths with one API.
//
//   basic:     z_i = Σ_j softmax_j(x_i · x_j) x_j                      (no learned weights)
//   scaled:    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V           (Vaswani et al. 2017, §3.2.1)
//
// Paths:
//   reference — materialises the (Tq × Tk) weights; can return them (viz uses this); the oracle.
//   fused     — tiled online softmax (Milakov & Gimelshein 2018; FlashAttention, Dao et al.
//               2022): never builds Tq × Tk, O(T) extra memory, fully masked tiles skipped,
//               backward recomputes the weights tile by tile.
//
// Shapes: q (B, H, Tq, D), k (B, Hkv, Tk, D), v (B, Hkv, Tk, Dv) -> output (B, H, Tq, Dv).
// H must be a multiple of Hkv: query head h reads key/value head h / (H / Hkv)
// (grouped-query attention; Hkv == 1 is multi-query attention).
//
// Defined edge case: a query row whose every key is masked outputs zeros and passes zero
// gradient (PyTorch would give NaN). Scores of any finite size (±1e4 and beyond) are safe.
#pragma once
#include <cstdint>
#include <vector>

#include "attend/tensor.hpp"

namespace attend {

// Which keys each query may see. All parts combine (a key must pass every one).
// Query i sits at absolute position i + (Tk - Tq), so a query block at the end of a longer
// key sequence is masked correctly; or, with query_offsets, at query_offsets[b] + i — a KV
// cache's step, whose sequences end at different places in one buffer of Tk = capacity keys.
struct AttentionMask {
    bool causal = false;               // key position j <= query position
    int64_t window = -1;               // >= 0: |query position - j| <= window (sliding window)
    // Held inline (attend/int64_list.hpp): a decoding step hands its mask to every layer.
    Int64List key_lengths;    // per batch element: keys j >= key_lengths[b] are padding
    Int64List query_offsets;  // per batch element: position of query 0 (empty: Tk - Tq)
    Tensor bool_mask;      // broadcastable to (B, H, Tq, Tk); nonzero = may attend, 0 = masked
    Tensor additive_mask;  // broadcastable to (B, H, Tq, Tk); added to the scores (-inf = masked)

    bool empty() const {
        return !causal && window < 0 && key_lengths.empty() && query_offsets.empty() && !bool_mask.defined() &&
               !additive_mask.defined();
    }
};

enum class AttentionPath { reference, fused };

struct AttentionOptions {
    float scale = 0.f;  // 0: 1/√D
    AttentionPath path = AttentionPath::fused;
    bool return_weights = false;  // weights need the reference path: asking for them selects it
    // Dropout on the weights (training): each weight is zeroed with probability `dropout` and
    // the rest scaled by 1/(1 − dropout). Which ones is a pure function of `dropout_seed` and
    // the weight's (b, h, i, j), so both paths drop the same weights (src/attention/dropout.hpp).
    // Returned weights are the softmax before dropout.
    float dropout = 0.f;
    uint64_t dropout_seed = 0;
};

struct AttentionOutput {
    Tensor output;   // (B, H, Tq, Dv)
    Tensor weights;  // (B, H, Tq, Tk), only when options.return_weights
};

// Scaled dot-product attention, differentiable in q, k and v (masks are constants).
AttentionOutput attention(const Tensor& q, const Tensor& k, const Tensor& v,
                          const AttentionMask& mask = {}, const AttentionOptions& options = {});

// Keys and values held in bf16 (the top half of each fp32 value, rounded to nearest even:
// attend/low_precision.hpp), as a KV cache keeps them to halve what decoding reads
// (nn/kv_cache.hpp): row-major k (batch, kv_heads, keys, dim) and v (batch, kv_heads, keys,
// value_dim). Plain arrays, not tensors: attend's tensors hold fp32.
struct Bf16KeysValues {
    const uint16_t* k = nullptr;
    const uint16_t* v = nullptr;
    int64_t batch = 0, kv_heads = 0, keys = 0, dim = 0, value_dim = 0;
};

// attention(q, k, v) with k and v the widened bf16 values — for inference: differentiable in
// q only. A decoding step's call (Tq ≤ 4 on the fused path, no weights, no dropout, q not
// differentiated) widens keys and values in registers as it reads them — the fp32 call on the
// widened tensors within rounding; any other call widens them into fp32 tensors first (with
// a KV cache's mask — key_lengths and query_offsets, no element masks — and no weights asked
// for, only the keys some sequence holds).
AttentionOutput attention(const Tensor& q, const Bf16KeysValues& kv, const AttentionMask& mask = {},
                          const AttentionOptions& options = {});

inline Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                           const AttentionMask& mask = {},
                                           const AttentionOptions& options = {}) {
    return attention(q, k, v, mask, options).output;
}

// The seeds' first form: z_i = Σ_j softmax_j(x_i · x_j) x_j, no scaling, no weights.
// x (T, D) or (B, T, D); window >= 0 restricts token i to neighbours |i - j| <= window.
// `weights`, when given, receives softmax_j(x_i · x_j) with x's batch shape + (T, T).
Tensor basic_self_attention(const Tensor& x, int64_t window = -1, Tensor* weights = nullptr);

}  // namespace attend
