// ops/gemv.cpp — y (M, N) = x (M, K) · Wᵀ + b for a few rows of x (see ops/gemv.hpp).
//
// The work is a block of NB weight rows against MB rows of x at a time: MB × NB vector
// accumulators stay in registers while the NB rows of W stream past in 16-float vectors,
// each loaded once and used MB times. At M = 1 the block is 8 rows of W (8 sequential
// streams keep the prefetchers busy); for 2 ≤ M ≤ 4 it is 4 rows × M (16 accumulators at
// most, of the 32 AVX-512 registers). A larger M repeats the sweep per 4 rows of x, reading
// W again from cache, not memory: a block of rows is 4·NB·K bytes (24 KiB at K = 768).
#include "ops/gemv.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "attend/parallel.hpp"

namespace attend {

namespace {

#define ATTEND_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define ATTEND_VECTOR_INLINE inline __attribute__((always_inline))
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float f32x16 __attribute__((vector_size(64)));
constexpr int64_t kLanes = 16;

ATTEND_VECTOR_INLINE f32x16 load16(const float* p) {
    f32x16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

ATTEND_VECTOR_INLINE float horizontal_sum(const f32x16& v) {
    // Pairwise halves: 8 + 4 + 2 + 1 adds (a clone lowers each half to its registers).
    float s[kLanes];
    std::memcpy(s, &v, sizeof s);
    for (int64_t w = kLanes / 2; w >= 1; w /= 2)
        for (int64_t l = 0; l < w; ++l) s[l] += s[l + w];
    return s[0];
}

// y[m, n + r] = Σ_k x[m, k] · W[n + r, k] (+ b) for m < MB, r < NB.
template <int MB, int NB>
ATTEND_VECTOR_INLINE void block(int64_t K, const float* x, const float* W, const float* bias, float* y, int64_t N) {
    f32x16 acc[MB][NB] = {};
    int64_t k = 0;
    for (; k + kLanes <= K; k += kLanes) {
        f32x16 xv[MB];
        for (int m = 0; m < MB; ++m) xv[m] = load16(x + m * K + k);
        for (int r = 0; r < NB; ++r) {
            const f32x16 w = load16(W + r * K + k);
            for (int m = 0; m < MB; ++m) acc[m][r] += xv[m] * w;
        }
    }
    for (int m = 0; m < MB; ++m)
        for (int r = 0; r < NB; ++r) {
            float s = horizontal_sum(acc[m][r]);
            for (int64_t t = k; t < K; ++t) s += x[m * K + t] * W[r * K + t];
            y[m * N + r] = s + (bias ? bias[r] : 0.f);
        }
}

// Rows [n0, n1) of W against all M rows of x.
template <int MB, int NB>
ATTEND_VECTOR_INLINE void sweep(int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x, const float* W,
                                const float* bias, float* y) {
    int64_t n = n0;
    for (; n + NB <= n1; n += NB) block<MB, NB>(K, x, W + n * K, bias ? bias + n : nullptr, y + n, N);
    for (; n < n1; ++n) block<MB, 1>(K, x, W + n * K, bias ? bias + n : nullptr, y + n, N);
}

ATTEND_SIMD_CLONES void rows_of_w(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                  const float* W, const float* bias, float* y) {
    int64_t m = 0;
    if (M == 1) return sweep<1, 8>(n0, n1, N, K, x, W, bias, y);
    for (; m + 4 <= M; m += 4) sweep<4, 4>(n0, n1, N, K, x + m * K, W, bias, y + m * N);
    switch (M - m) {
        case 3: sweep<3, 4>(n0, n1, N, K, x + m * K, W, bias, y + m * N); break;
        case 2: sweep<2, 4>(n0, n1, N, K, x + m * K, W, bias, y + m * N); break;
        case 1: sweep<1, 8>(n0, n1, N, K, x + m * K, W, bias, y + m * N); break;
        default: break;
    }
}

}  // namespace

bool use_skinny_gemm(int64_t M, int64_t N, int64_t K) { return M <= 8 && N >= 16 && K >= 16; }

void skinny_gemm(int64_t M, int64_t N, int64_t K, const float* x, const float* W, const float* bias, float* y) {
    if (M <= 0 || N <= 0) return;
    // Each thread takes a contiguous share of W's rows, a multiple of 16 rows (whole cache
    // lines of y, and blocks of the sweep), so the threads stream disjoint parts of W.
    const int64_t chunks = (N + 15) / 16;
#pragma omp parallel if (worth_threading(N * K, chunks))
    {
        const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t c0 = chunks * t / threads, c1 = chunks * (t + 1) / threads;
        const int64_t n0 = std::min(N, c0 * 16), n1 = std::min(N, c1 * 16);
        if (n0 < n1) rows_of_w(M, n0, n1, N, K, x, W, bias, y);
    }
}

}  // namespace attend
