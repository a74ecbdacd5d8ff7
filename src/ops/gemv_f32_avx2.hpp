// ops/gemv_f32_avx2.hpp — the fp32 decoding kernels written for AVX2 + FMA, private to
// ops/gemv.cpp.
//
// gemv.cpp's kernels are 16-float GCC vectors compiled as target clones (ops/simd.hpp). On a
// CPU with AVX2 but not AVX-512 its avx2 clone runs, and GCC 12 lowers that clone's 64-byte
// vectors poorly: accumulators spilled to the stack and rebuilt through xmm halves, and no FMA
// (GCC's "avx2" target does not include it). perf on an AVX2-only EPYC, GPT-2 small fp32
// decoding: more stack moves than multiply-adds in the hot loops of both kernels, and the
// weights read at 61–67% of the bandwidth. These are the same two kernels on 8-float AVX2
// registers with FMA; gemv.cpp takes them on such CPUs (cpu_prefers_avx2_kernels(), ops/simd.hpp).
#pragma once
#include <cstdint>

namespace attend {

// Columns [c0, c1) of an input-major A (K, N), rows lda apart (c1 − c0 ≥ 16), and the part of
// them swept in whole 16-float vectors starting on a cache line (see gemv.cpp).
struct ColumnSpan {
    int64_t c0, c1;
    int64_t a0, a1;  // the sweep: whole vectors on cache lines (or, unaligned, from c0)
};
ColumnSpan column_span(const float* A, int64_t lda, int64_t c0, int64_t c1);

// y[m, j] += Σ_{u < RU} x[m, k + u] · a[u][j] for j in [j0, j1), m < MB, one column at a time
// as plain multiplies and adds (the same bits whatever MB; gemv.cpp).
void add_edge_columns(int MB, int RU, int64_t K, const float* x, const float* const* a, int64_t k, int64_t j0,
                      int64_t j1, float* y, int64_t N);

// y[m, n] = Σ_k x[m, k] · W[n, k] (+ bias[n]) for rows [n0, n1) of W (N, K) and the M rows of x.
void f32_rows_avx2(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x, const float* W,
                   const float* bias, float* y);

// y (M, N) += x[:, k0 .. k1) · A[k0 .. k1, :] for M ≤ 8 and N ≥ 16, A (K, N) rows lda apart.
void f32_input_major_avx2(int64_t M, int64_t k0, int64_t k1, int64_t N, int64_t K, const float* x, const float* A,
                          int64_t lda, float* y);

}  // namespace attend
