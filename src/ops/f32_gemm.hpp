// ops/f32_gemm.hpp — our own fp32 GEMM (AVX-512), behind ops/gemm.hpp's sgemm. Private.
//   C (M, N) = alpha · op(A) · op(B) + beta · C, row-major, BLAS semantics (beta == 0: C is
//   not read). Same bits at any thread count (the sum over k is cut into blocks by K alone).
#pragma once
#include <cstdint>

namespace attend {

// Whether f32_gemm runs on this CPU (AVX-512F).
bool f32_gemm_available();

// Returns false, doing nothing, where !f32_gemm_available(). Threads over the pool when it is
// worth it and not inside a parallel region (parallel.hpp rule 3).
bool f32_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace attend
