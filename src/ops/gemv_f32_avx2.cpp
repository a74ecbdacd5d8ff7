// ops/gemv_f32_avx2.cpp — gemv.cpp's two fp32 decoding kernels on AVX2 + FMA (see
// ops/gemv_f32_avx2.hpp for why they exist; gemv.cpp for the layouts and the order of work).
//
//   rows         y[m, n] = Σ_k x[m, k] · W[n, k]: each row of W streamed once in 8-float
//                vectors, U = 2 accumulators per row of x and of W (two FMA chains), up to 2
//                rows of x against one row of W, or one row of x against 4 rows of W side by
//                side (8 of the 16 registers), x read by the FMAs from L1.
//   input-major  y[m, :] += Σ_u x[m, k + u] · A[k + u, :] for 4 rows of A at a time, each
//                weight vector loaded once for every row of x, the rows 8 ahead prefetched.
//
// As in gemv.cpp, every output is the same sequence of operations whatever the other rows of
// x: a row of x meets the same instructions alone or beside another (MB changes only how
// many rows share a load), and an input-major column is summed y + x₀·a₀ + x₁·a₁ + … in one
// fixed order, fused (one FMA per product) in the sweep and unfused at the ragged edges
// (add_edge_columns), whatever M.
#include "ops/gemv_f32_avx2.hpp"

#include <immintrin.h>

#include "ops/avx2_sums.hpp"
#include "ops/gemv_row_order.hpp"

namespace attend {

// ---- kernels: AVX2 + FMA from here on; no standard-library calls below this line ----
#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace {

constexpr int64_t kWidth = 8;  // floats per register

// ---- rows: W (N, K) row-major -----------------------------------------------------------------
struct RowKernel {
    const float* x;  // the first of the rows of x this instance takes
    int64_t K;
    const float* W;
    const float* bias;
    float* y;  // the first of their rows of y
    int64_t N;

    RowKernel rows_from(int64_t m) const {
        RowKernel r = *this;
        r.x += m * K;
        r.y += m * N;
        return r;
    }

    // Rows n[0 .. R) of W against MB rows of x (R = 4: RowQuads, ops/gemv_row_order.hpp, their
    // loads interleaved); a row's sums are the same operations with or without partners.
    template <int MB, int R>
    void run(const int64_t (&n)[R]) const {
        constexpr int U = 2;
        const float* w[R];
        for (int r = 0; r < R; ++r) w[r] = W + n[r] * K;
        __m256 acc[R][MB][U];
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < MB; ++m)
                for (int u = 0; u < U; ++u) acc[r][m][u] = _mm256_setzero_ps();
        auto vector = [&](int64_t k, int u, __m256i keep, bool masked) __attribute__((always_inline)) {
            for (int r = 0; r < R; ++r) {
                const __m256 wv = masked ? _mm256_maskload_ps(w[r] + k, keep) : _mm256_loadu_ps(w[r] + k);
                for (int m = 0; m < MB; ++m)
                    acc[r][m][u] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(x + m * K + k, keep), acc[r][m][u]);
            }
        };
        const __m256i all = _mm256_set1_epi32(-1);
        int64_t k = 0;
        for (; k + U * kWidth <= K; k += U * kWidth)
            for (int u = 0; u < U; ++u) vector(k + u * kWidth, u, all, false);
        int u = 0;
        for (; k + kWidth <= K; k += kWidth, ++u) vector(k, u, all, false);
        if (k < K) {  // the last 1–7 columns: masked loads, nothing read past the row
            const __m256i keep =
                _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(K - k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            vector(k, u, keep, true);
        }
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < MB; ++m)
                y[m * N + n[r]] = avx2::sum_of_2(acc[r][m]) + (bias ? bias[n[r]] : 0.f);
    }
};

// ---- input-major: A (K, N) = Wᵀ ---------------------------------------------------------------
// y[m, cols] += Σ_{u < RU} x[m, k + u] · A[k + u, cols], 16 columns (one cache line of each
// row) per step.
template <int MB, int RU>
inline __attribute__((always_inline)) void add_input_rows(int64_t K, const float* x, const float* A, int64_t lda,
                                                          int64_t k, const ColumnSpan& cols, float* y, int64_t N) {
    constexpr int64_t kAhead = 8;  // rows, as in gemv.cpp
    const float* a[RU];
    for (int u = 0; u < RU; ++u) a[u] = A + (k + u) * lda;
    __m256 xs[MB][RU];
    for (int m = 0; m < MB; ++m)
        for (int u = 0; u < RU; ++u) xs[m][u] = _mm256_set1_ps(x[m * K + k + u]);
    for (int64_t j = cols.a0; j < cols.a1; j += 2 * kWidth) {
        __m256 w[RU][2];
        for (int u = 0; u < RU; ++u) {
            __builtin_prefetch(a[u] + kAhead * lda + j);  // past A's end it is dropped, never a fault
            w[u][0] = _mm256_loadu_ps(a[u] + j);
            w[u][1] = _mm256_loadu_ps(a[u] + j + kWidth);
        }
        for (int m = 0; m < MB; ++m)
            for (int h = 0; h < 2; ++h) {
                float* yj = y + m * N + j + h * kWidth;
                __m256 sum = _mm256_loadu_ps(yj);
                for (int u = 0; u < RU; ++u) sum = _mm256_fmadd_ps(xs[m][u], w[u][h], sum);
                _mm256_storeu_ps(yj, sum);
            }
    }
    add_edge_columns(MB, RU, K, x, a, k, cols.c0, cols.a0, y, N);
    add_edge_columns(MB, RU, K, x, a, k, cols.a1, cols.c1, y, N);
}

template <int MB>
void input_major_rows(int64_t K, const float* x, const float* A, int64_t lda, int64_t k0, int64_t k1,
                      const ColumnSpan& cols, float* y, int64_t N) {
    constexpr int U = 4;
    int64_t k = k0;
    for (; k + U <= k1; k += U) add_input_rows<MB, U>(K, x, A, lda, k, cols, y, N);
    for (; k < k1; ++k) add_input_rows<MB, 1>(K, x, A, lda, k, cols, y, N);
}

}  // namespace

// Each row of W once per call, every row of x against it while it is in L1 (2 at a time); one
// row of x (decoding one sequence) against four rows of W at a time, alone or in a team
// (RowQuads, ops/gemv_row_order.hpp).
void f32_rows_avx2(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x, const float* W,
                   const float* bias, float* y) {
    const RowKernel kernel{x, K, W, bias, y, N};
    if (M == 1) {
        RowQuads(n0, n1, true).visit([&](const int64_t (&quad)[4]) { kernel.run<1, 4>(quad); },
                                     [&](int64_t n) { kernel.run<1, 1>({n}); });
        return;
    }
    for (int64_t n = n0; n < n1; ++n) {
        int64_t m = 0;
        for (; m + 2 <= M; m += 2) kernel.rows_from(m).run<2, 1>({n});
        if (m < M) kernel.rows_from(m).run<1, 1>({n});
    }
}

void f32_input_major_avx2(int64_t M, int64_t k0, int64_t k1, int64_t N, int64_t K, const float* x, const float* A,
                          int64_t lda, float* y) {
    const ColumnSpan cols = column_span(A, lda, 0, N);
    switch (M) {
        case 1: input_major_rows<1>(K, x, A, lda, k0, k1, cols, y, N); break;
        case 2: input_major_rows<2>(K, x, A, lda, k0, k1, cols, y, N); break;
        case 3: input_major_rows<3>(K, x, A, lda, k0, k1, cols, y, N); break;
        case 4: input_major_rows<4>(K, x, A, lda, k0, k1, cols, y, N); break;
        case 5: input_major_rows<5>(K, x, A, lda, k0, k1, cols, y, N); break;
        case 6: input_major_rows<6>(K, x, A, lda, k0, k1, cols, y, N); break;
        case 7: input_major_rows<7>(K, x, A, lda, k0, k1, cols, y, N); break;
        default: input_major_rows<8>(K, x, A, lda, k0, k1, cols, y, N); break;
    }
}

#pragma GCC pop_options

}  // namespace attend
