// ops/gemm.hpp — the one GEMM entry point (private). Row-major, BLAS semantics:
//   C (M, N) = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ
// Backed by oneDNN's dnnl_sgemm (JIT, AVX-512/AVX2 chosen at run time; see README), and by our
// own AVX-512 kernel (ops/f32_gemm.hpp) at the shapes where it measured faster.
#pragma once
#include <cstdint>

namespace attend {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace attend
