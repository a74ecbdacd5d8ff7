// ops/bias_gelu.hpp — gelu(x + bias) in one pass, for FeedForward (private to the library).
// Defined in ops/activation.cpp beside gelu, whose vector kernels it shares.
//
//   y = gelu(x + b),  b (C) added to every row of x (..., C)
//   dx = dy · gelu′(x + b),  db = Σ_rows dx
//
// A Linear's bias folded into the activation after it: the GEMM writes x · Wᵀ without a bias
// pass, and backward sums db from the dx it writes anyway (instead of the linear's own pass
// over dy). Rows are summed in fixed blocks, in block order: the same bits at any thread count.
#pragma once
#include "attend/ops.hpp"

namespace attend {

Tensor bias_gelu(const Tensor& x, const Tensor& bias, GeluApproximation approximate = GeluApproximation::none);

}  // namespace attend
