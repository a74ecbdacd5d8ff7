// ops/gemv.cpp — y (M, N) = x (M, K) · Wᵀ + b for a few rows of x (see ops/gemv.hpp).
//
// The weights are fp32, bf16 or int8 (low_precision.hpp): each kind widens its 16 values to
// fp32 in registers as it loads them, so one kernel serves all three.
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

#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "ops/simd.hpp"

namespace attend {

namespace {

typedef uint16_t u16x16 __attribute__((vector_size(32)));
typedef int8_t i8x16 __attribute__((vector_size(16)));
typedef int16_t i16x16 __attribute__((vector_size(32)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x4 __attribute__((vector_size(16)));

// Σ of the 16 lanes as a tree of halves (4 shuffle + add levels). simd.hpp's horizontal_sum
// adds lane after lane, the same order on every clone, but 15 dependent adds per output cost
// more than a row's multiply-adds here (8 outputs per 8 × 768 weights at M = 1).
ATTEND_VECTOR_INLINE float tree_sum(const f32x16& v) {
    const f32x8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                    __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    const f32x4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    return (b[0] + b[2]) + (b[1] + b[3]);
}

// The weights as the kernel reads them: row(r) is one row, whose load(k) widens
// W[r, k .. k + 16) to fp32 (k a multiple of 16) and at(k) one value (the tail of a row whose
// width is not). The block takes its rows' pointers once, so the inner loop only adds k.
struct F32Weights {
    const float* w;
    int64_t K;
    struct Row {
        const float* w;
        ATTEND_VECTOR_INLINE f32x16 load(int64_t k) const { return load16(w + k); }
        float at(int64_t k) const { return w[k]; }
        const void* address(int64_t k) const { return w + k; }
        static constexpr int64_t kLoadsPerLine = 1;  // 16 floats: one 64-byte line
        static constexpr bool kPrefetch = false;     // 3 KiB rows: measured slower with it
    };
    Row row(int64_t r) const { return {w + r * K}; }
};

struct Bf16Weights {  // bf16 is fp32's top half: widen by a 16-bit shift
    const uint16_t* w;
    int64_t K;
    struct Row {
        const uint16_t* w;
        ATTEND_VECTOR_INLINE f32x16 load(int64_t k) const {
            u16x16 h;
            std::memcpy(&h, w + k, sizeof h);
            return (f32x16)(__builtin_convertvector(h, i32x16) << 16);
        }
        float at(int64_t k) const { return from_bf16(w[k]); }
        const void* address(int64_t k) const { return w + k; }
        static constexpr int64_t kLoadsPerLine = 2;
        static constexpr bool kPrefetch = true;
    };
    Row row(int64_t r) const { return {w + r * K}; }
};

struct Int8Weights {  // q · s, s the scale of the 32-column block holding k (16 | 32: one block per load)
    const int8_t* q;
    const float* scales;
    int64_t K, blocks;
    struct Row {
        const int8_t* q;
        const float* scales;
        ATTEND_VECTOR_INLINE f32x16 load(int64_t k) const {
            i8x16 v;
            std::memcpy(&v, q + k, sizeof v);
            // Sign-extend through 16 bits, then convert: so GCC 12 emits vpmovsxbw, vpmovsxwd and
            // vcvtdq2ps (AVX-512 and AVX2 alike); int8 → int32 or → float directly it scalarises,
            // a conversion per lane (measured: int8 decode then ran at 7% of the read bandwidth).
            const i32x16 wide = __builtin_convertvector(__builtin_convertvector(v, i16x16), i32x16);
            return __builtin_convertvector(wide, f32x16) * scales[k / LowPrecisionMatrix::kBlock];
        }
        float at(int64_t k) const { return float(q[k]) * scales[k / LowPrecisionMatrix::kBlock]; }
        const void* address(int64_t k) const { return q + k; }
        static constexpr int64_t kLoadsPerLine = 4;
        static constexpr bool kPrefetch = true;  // int8 decode: 43 → 55-61 tok/s at 1 thread
    };
    Row row(int64_t r) const { return {q + r * K, scales + r * blocks}; }
};

// y[m, n + r] = Σ_k x[m, k] · W[n + r, k] (+ b) for m < MB, r < NB.
template <int MB, int NB, class Weights>
ATTEND_VECTOR_INLINE void block(int64_t K, const float* x, const Weights& W, int64_t n, const float* bias, float* y,
                                int64_t N) {
    typename Weights::Row rows[NB];
    for (int r = 0; r < NB; ++r) rows[r] = W.row(n + r);
    // Prefetch distance: NB rows further on, i.e. the same column of the next block's row r.
    const int64_t kAhead = static_cast<const char*>(W.row(NB).address(0)) - static_cast<const char*>(W.row(0).address(0));
    f32x16 acc[MB][NB] = {};
    int64_t k = 0;
    for (; k + kLanes <= K; k += kLanes) {
        f32x16 xv[MB];
        for (int m = 0; m < MB; ++m) xv[m] = load16(x + m * K + k);
        for (int r = 0; r < NB; ++r) {
            // The next block's rows, a few lines ahead of where they will be read: eight rows of
            // 1.5–3 KiB each are too short for the hardware prefetcher to ramp up on.
            if (Weights::Row::kPrefetch && (k / kLanes) % Weights::Row::kLoadsPerLine == 0)
                __builtin_prefetch(static_cast<const char*>(rows[r].address(k)) + kAhead, 0, 0);
            const f32x16 w = rows[r].load(k);
            for (int m = 0; m < MB; ++m) acc[m][r] += xv[m] * w;
        }
    }
    for (int m = 0; m < MB; ++m)
        for (int r = 0; r < NB; ++r) {
            float s = tree_sum(acc[m][r]);
            for (int64_t t = k; t < K; ++t) s += x[m * K + t] * rows[r].at(t);
            y[m * N + n + r] = s + (bias ? bias[n + r] : 0.f);
        }
}

// Rows [n0, n1) of W against MB rows of x.
template <int MB, int NB, class Weights>
ATTEND_VECTOR_INLINE void sweep(int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x, const Weights& W,
                                const float* bias, float* y) {
    int64_t n = n0;
    for (; n + NB <= n1; n += NB) block<MB, NB>(K, x, W, n, bias, y, N);
    for (; n < n1; ++n) block<MB, 1>(K, x, W, n, bias, y, N);
}

template <class Weights>
ATTEND_VECTOR_INLINE void rows_of_w(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                    const Weights& W, const float* bias, float* y) {
    if (M == 1) return sweep<1, 8>(n0, n1, N, K, x, W, bias, y);
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) sweep<4, 4>(n0, n1, N, K, x + m * K, W, bias, y + m * N);
    switch (M - m) {
        case 3: sweep<3, 4>(n0, n1, N, K, x + m * K, W, bias, y + m * N); break;
        case 2: sweep<2, 4>(n0, n1, N, K, x + m * K, W, bias, y + m * N); break;
        case 1: sweep<1, 8>(n0, n1, N, K, x + m * K, W, bias, y + m * N); break;
        default: break;
    }
}

// One clone set per weight type (target_clones cannot sit on a template).
ATTEND_SIMD_CLONES void rows_f32(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                 const F32Weights& W, const float* bias, float* y) {
    rows_of_w(M, n0, n1, N, K, x, W, bias, y);
}
ATTEND_SIMD_CLONES void rows_bf16(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                  const Bf16Weights& W, const float* bias, float* y) {
    rows_of_w(M, n0, n1, N, K, x, W, bias, y);
}
ATTEND_SIMD_CLONES void rows_int8(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                  const Int8Weights& W, const float* bias, float* y) {
    rows_of_w(M, n0, n1, N, K, x, W, bias, y);
}

// Each thread takes a contiguous share of W's rows, a multiple of 16 rows (whole cache lines
// of y, and whole blocks of the sweep), so the threads stream disjoint parts of W.
template <class Rows>
void split_rows(int64_t N, int64_t K, int64_t bytes_per_weight, const Rows& rows) {
    const int64_t chunks = (N + 15) / 16;
#pragma omp parallel if (worth_threading(N * K * bytes_per_weight / 4, chunks))
    {
        const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t c0 = chunks * t / threads, c1 = chunks * (t + 1) / threads;
        const int64_t n0 = std::min(N, c0 * 16), n1 = std::min(N, c1 * 16);
        if (n0 < n1) rows(n0, n1);
    }
}

}  // namespace

bool use_skinny_gemm(int64_t M, int64_t N, int64_t K) { return M <= 8 && N >= 16 && K >= 16; }

void skinny_gemm(int64_t M, int64_t N, int64_t K, const float* x, const float* W, const float* bias, float* y) {
    if (M <= 0 || N <= 0) return;
    const F32Weights w{W, K};
    split_rows(N, K, 4, [&](int64_t n0, int64_t n1) { rows_f32(M, n0, n1, N, K, x, w, bias, y); });
}

void skinny_gemm(int64_t M, const float* x, const LowPrecisionMatrix& W, const float* bias, float* y) {
    const int64_t N = W.rows(), K = W.cols();
    if (M <= 0 || N <= 0) return;
    if (W.type() == WeightType::bf16) {
        const Bf16Weights w{W.bf16(), K};
        split_rows(N, K, 2, [&](int64_t n0, int64_t n1) { rows_bf16(M, n0, n1, N, K, x, w, bias, y); });
    } else {
        const Int8Weights w{W.int8(), W.scales(), K, W.blocks_per_row()};
        split_rows(N, K, 1, [&](int64_t n0, int64_t n1) { rows_int8(M, n0, n1, N, K, x, w, bias, y); });
    }
}

}  // namespace attend
