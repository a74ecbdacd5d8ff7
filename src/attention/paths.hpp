// attention/paths.hpp — the two implementations behind attend::attention() (private).
//
// Both take validated, contiguous q (B, H, Tq, D), k (B, Hkv, Tk, D), v (B, Hkv, Tk, Dv),
// a MaskPlan for these shapes and the score scale, and record their own autograd node
// (differentiable in q, k, v). attention.cpp checks shapes and chooses the path.
#pragma once
#include "attend/attention.hpp"
#include "attention/dropout.hpp"
#include "attention/mask.hpp"

namespace attend {

// Materialises S = scale·QKᵀ + bias and P = softmax(S): (B, H, Tq, Tk). Returns P as
// `weights` when asked. Backward: dV = PᵀdO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)),
// dQ = scale·dS K, dK = scale·dSᵀ Q.
AttentionOutput reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, const MaskPlan& mask,
                                    float scale, bool return_weights, const AttentionDropout& dropout = {});

// Tiled online softmax: O(T) extra memory, masked tiles skipped, backward recomputes P.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const MaskPlan& mask, float scale,
                       const AttentionDropout& dropout = {});

// The fused path's decoding kernel over keys and values held in bf16, widened in registers as
// it reads them: fused_attention on the widened tensors within rounding (the scores sum the
// same products in another order). Inference only (no autograd record). Undefined when the
// call is not a decoding step's (Tq > 4, a kv head with more than 16 query heads, D > 512,
// Dv > 1024): the caller widens the keys and values instead.
Tensor fused_attention_bf16_rows(const Tensor& q, const Bf16KeysValues& kv, const MaskPlan& mask, float scale);

}  // namespace attend
