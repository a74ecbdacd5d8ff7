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

}  // namespace attend
