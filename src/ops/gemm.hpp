// ops/gemm.hpp — the fp32 GEMM entry point (private), and its bf16 mixed-precision twin.
// Row-major, BLAS semantics:
//   C (M, N) = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ
// sgemm is backed by oneDNN's dnnl_sgemm (JIT, AVX-512/AVX2 chosen at run time; see README), and
// by our own AVX-512 kernel (ops/f32_gemm.hpp) at the shapes where it measured faster.
#pragma once
#include <cstdint>

namespace attend {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// C (M, N) = op(A) · op(B) (+ bias (N) in every row) (+ C when accumulate), with A and B fp32
// rounded to bf16 and the sums fp32, on the CPU's bf16 dot products (ops/bf16_gemm.cpp). op as
// sgemm's: trans_a: A stored (K, M); trans_b: B stored (N, K). C's rows are ldc apart. false,
// nothing written, on a CPU without AVX512-BF16. The linear layer's bf16 mixed precision
// (attend/matmul_precision.hpp).
bool bf16_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, const float* bias, bool accumulate, float* C, int64_t ldc);

}  // namespace attend
