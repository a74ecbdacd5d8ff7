// ops/gemv.cpp — y (M, N) = x (M, K) · Wᵀ + b for a few rows of x (see ops/gemv.hpp).
//
// The weights are fp32, bf16 or int8 (low_precision.hpp): each kind widens its 16 values to
// fp32 in registers as it loads them, so one kernel serves all three.
//
// The work is one row of W against up to 4 rows of x at a time: the row streams past in
// 16-float vectors, each loaded once and used for every row of x, while 4 × MB vector
// accumulators stay in registers (16 at most, of the 32 AVX-512 registers). A larger M
// repeats the sweep per 4 rows of x. Where the CPU has bf16 / int8 dot products the
// low-precision weights go to ops/gemv_dot.cpp instead, with the same shape of work.
#include "ops/gemv.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "core/parallel_loop.hpp"
#include "core/share_balance.hpp"
#include "ops/gemv_dot.hpp"
#include "ops/gemv_f32_avx2.hpp"
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
    };
    Row row(int64_t r) const { return {q + r * K, scales + r * blocks}; }
};

// y[m, n] = Σ_k x[m, k] · W[n, k] (+ b) for m < MB and the R rows n of W (R = 2 only for one
// row of x: RowPairs, ops/gemv_row_order.hpp), their loads interleaved in one sweep.
// Rows are taken one (or one pair) after the other, so W is read front to back as one stream
// (two), which the hardware prefetcher follows at full speed; rows of 1.5–6 KiB read 8 at a
// time (as this kernel once did) are each too short for it, and decoding read f32 weights at
// 13.6 GB/s instead of 16.9 (bf16: 10.4 → 20.7 on the dot products) on one thread of this
// machine. U accumulators per row of x hide the multiply-add latency; they are added in a
// fixed order, the same for every MB and R, so a row's result does not depend on the batch.
template <int MB, int R, class Weights>
ATTEND_VECTOR_INLINE void row(int64_t K, const float* x, const Weights& W, const int64_t (&n)[R], const float* bias,
                              float* y, int64_t N) {
    constexpr int U = 4;
    typename Weights::Row w[R];
    for (int r = 0; r < R; ++r) w[r] = W.row(n[r]);
    f32x16 acc[R][MB][U] = {};
    int64_t k = 0;
    for (; k + U * kLanes <= K; k += U * kLanes)
        for (int u = 0; u < U; ++u)
            for (int r = 0; r < R; ++r) {
                const f32x16 wv = w[r].load(k + u * kLanes);
                for (int m = 0; m < MB; ++m) acc[r][m][u] += load16(x + m * K + k + u * kLanes) * wv;
            }
    for (int u = 0; k + kLanes <= K; k += kLanes, ++u)
        for (int r = 0; r < R; ++r) {
            const f32x16 wv = w[r].load(k);
            for (int m = 0; m < MB; ++m) acc[r][m][u] += load16(x + m * K + k) * wv;
        }
    for (int r = 0; r < R; ++r)
        for (int m = 0; m < MB; ++m) {
            float s = tree_sum((acc[r][m][0] + acc[r][m][1]) + (acc[r][m][2] + acc[r][m][3]));
            for (int64_t t = k; t < K; ++t) s += x[m * K + t] * w[r].at(t);
            y[m * N + n[r]] = s + (bias ? bias[n[r]] : 0.f);
        }
}

// ---- fp32 rows that start inside a cache line ------------------------------------------------
// A checkpoint used in place from its mapped file puts W where the file does: safetensors
// aligns its data to 8 bytes only, so a row of GPT-2's f32 weights usually starts mid-line and
// every 64-byte load of row() straddles two lines (f32 decode, one thread: 38–43 tok/s with
// the data at 8 mod 64 against 50–61 at 0). When every row starts s floats into a line (K a
// multiple of 16), this kernel reads the row's whole lines instead:
//   a = W_n − s (line-aligned):  W_n[16 − s, K − s) = a[16, K), vectors a[16i, 16i + 16) for
//   i = 1 … K/16 − 1, each times x[16i − s, 16i − s + 16) (an unaligned load of x, in cache);
//   the 16 − s floats before that and the s after it come from one unaligned load at each end
//   of the row, masked to the lanes the aligned vectors do not cover.
// Every load stays inside the row, so nothing outside W is read. The sums run in another order
// than row()'s; each row still gets the same order alone or in a batch (MB does not change it).
struct F32Lines {  // fp32 weights whose every row starts s floats into a cache line
    const float* w;
    int64_t s;
};

// row() for such weights (the overload rows_of_w picks for F32Lines).
template <int MB, int R>
ATTEND_VECTOR_INLINE void row(int64_t K, const float* x, const F32Lines& W, const int64_t (&n)[R], const float* bias,
                              float* y, int64_t N) {
    constexpr int U = 4;
    const int64_t s = W.s;
    const i32x16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const i32x16 head = lane < int32_t(kLanes - s), tail = ~head;  // all ones where kept
    const float* a[R];  // each row's start, on a cache line
    f32x16 acc[R][MB][U] = {};
    for (int r = 0; r < R; ++r) {
        const float* w = W.w + n[r] * K;
        a[r] = w - s;
        const f32x16 w_head = (f32x16)((i32x16)load16(w) & head), w_tail = (f32x16)((i32x16)load16(w + K - kLanes) & tail);
        for (int m = 0; m < MB; ++m) {
            acc[r][m][0] = load16(x + m * K) * w_head;
            acc[r][m][1] = load16(x + m * K + K - kLanes) * w_tail;
        }
    }
    int64_t k = kLanes;
    for (; k + U * kLanes <= K; k += U * kLanes)
        for (int u = 0; u < U; ++u)
            for (int r = 0; r < R; ++r) {
                const f32x16 wv = load16(a[r] + k + u * kLanes);
                for (int m = 0; m < MB; ++m) acc[r][m][u] += load16(x + m * K + k + u * kLanes - s) * wv;
            }
    for (int u = 0; k < K; k += kLanes, ++u)
        for (int r = 0; r < R; ++r) {
            const f32x16 wv = load16(a[r] + k);
            for (int m = 0; m < MB; ++m) acc[r][m][u] += load16(x + m * K + k - s) * wv;
        }
    for (int r = 0; r < R; ++r)
        for (int m = 0; m < MB; ++m)
            y[m * N + n[r]] = tree_sum((acc[r][m][0] + acc[r][m][1]) + (acc[r][m][2] + acc[r][m][3])) +
                              (bias ? bias[n[r]] : 0.f);
}

// Rows [n0, n1) of W against the M rows of x, 4 at a time (each weight loaded once per 4); one
// row of x (decoding one sequence) against two rows of W at a time when `alone` (RowPairs).
template <class Weights>
ATTEND_VECTOR_INLINE void rows_of_w(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                    const Weights& W, const float* bias, float* y, bool alone) {
    int64_t m = 0;
    for (; m + 4 <= M; m += 4)
        for (int64_t n = n0; n < n1; ++n) row<4, 1>(K, x + m * K, W, {n}, bias, y + m * N, N);
    const float* xm = x + m * K;
    float* ym = y + m * N;
    switch (M - m) {
        case 3: for (int64_t n = n0; n < n1; ++n) row<3, 1>(K, xm, W, {n}, bias, ym, N); break;
        case 2: for (int64_t n = n0; n < n1; ++n) row<2, 1>(K, xm, W, {n}, bias, ym, N); break;
        case 1:
            RowPairs(n0, n1, alone).visit([&](const int64_t (&pair)[2]) { row<1, 2>(K, xm, W, pair, bias, ym, N); },
                                          [&](int64_t n) { row<1, 1>(K, xm, W, {n}, bias, ym, N); });
            break;
        default: break;
    }
}

// One clone set per weight type (target_clones cannot sit on a template).
ATTEND_SIMD_CLONES void rows_f32(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                 const F32Weights& W, const float* bias, float* y, bool alone) {
    rows_of_w(M, n0, n1, N, K, x, W, bias, y, alone);
}
ATTEND_SIMD_CLONES void rows_bf16(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                  const Bf16Weights& W, const float* bias, float* y, bool alone) {
    rows_of_w(M, n0, n1, N, K, x, W, bias, y, alone);
}
ATTEND_SIMD_CLONES void rows_int8(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                  const Int8Weights& W, const float* bias, float* y, bool alone) {
    rows_of_w(M, n0, n1, N, K, x, W, bias, y, alone);
}
ATTEND_SIMD_CLONES void rows_f32_lines(int64_t M, int64_t n0, int64_t n1, int64_t N, int64_t K, const float* x,
                                       const F32Lines& W, const float* bias, float* y, bool alone) {
    rows_of_w(M, n0, n1, N, K, x, W, bias, y, alone);
}

// ---- W stored input-major: A (K, N) = Wᵀ, rows lda apart --------------------------------------
// GPT-2's Conv1D keeps its weight as (in, out). Used in place from the checkpoint's mapped
// file (no transposed copy at load), y is built the other way round: each row k of A, scaled
// by x[m, k], is added into y[m, :] — an axpy per input instead of a dot product per output.
// A is still read front to back, U = 4 rows side by side, each weight vector loaded once for
// every row of x (all of them: M ≤ 8 vectors of y plus 4 of A stay within the 32 registers),
// and the threads split the rows of A. y's rows stay in L1 (N ≤ 3072 at M = 1: 12 KiB).
//
// The file aligns A to 8 bytes only, so a vector at an arbitrary column straddles two cache
// lines; as in F32Lines, the sweep instead starts at the first column whose address is on a
// line (the same column offset in every row when lda is a multiple of 16), and the columns
// before it and after the last whole vector (under 16 at each end) are summed one at a time.
// Every column gets the same sums in the same order, whatever M.
}  // namespace

ColumnSpan column_span(const float* A, int64_t lda, int64_t c0, int64_t c1) {
    ColumnSpan s{c0, c1, c0, c0};
    const uintptr_t address = reinterpret_cast<uintptr_t>(A + c0);
    if (lda % kLanes == 0 && address % sizeof(float) == 0)  // every row's column c0 sits `off` floats into a line
        s.a0 = c0 + (kLanes - int64_t(address % 64 / sizeof(float))) % kLanes;
    s.a1 = s.a0 + (c1 - s.a0) / kLanes * kLanes;
    return s;
}

// The columns [j0, j1) before or after the sweep (under 16), one at a time, as plain
// multiplies and adds: inlined into the kernel's instances, GCC fused some of these scalar
// steps into FMAs in one instance and not in another, so a row's bits changed with the batch
// (and masked unaligned vectors in their place did the same in the sanitizer build).
__attribute__((noinline, optimize("fp-contract=off"))) void add_edge_columns(
    int MB, int RU, int64_t K, const float* x, const float* const* a, int64_t k, int64_t j0, int64_t j1, float* y,
    int64_t N) {
    for (int64_t j = j0; j < j1; ++j)
        for (int m = 0; m < MB; ++m) {
            float sum = y[m * N + j];
            for (int u = 0; u < RU; ++u) sum += x[m * K + k + u] * a[u][j];
            y[m * N + j] = sum;
        }
}

ShareBalance& skinny_balance() {
    static ShareBalance balance;
    return balance;
}

namespace {

// y[m, c0 .. c1) += Σ_{u < RU} x[m, k + u] · A[k + u, c0 .. c1) for every m < MB. Each row
// read is 3–12 KiB here, then the sweep jumps 4 rows on: the hardware prefetcher would
// start over at every row, so the rows kAhead further on are prefetched alongside.
template <int MB, int RU>
ATTEND_VECTOR_INLINE void add_input_rows(int64_t K, const float* x, const float* A, int64_t lda, int64_t k,
                                         const ColumnSpan& cols, float* y, int64_t N) {
    constexpr int64_t kAhead = 8;  // rows; 4, 8 and 16 measured alike, none slower (docs/performance.md)
    const float* a[RU];
    for (int u = 0; u < RU; ++u) a[u] = A + (k + u) * lda;
    for (int64_t j = cols.a0; j < cols.a1; j += kLanes) {
        f32x16 w[RU];
        for (int u = 0; u < RU; ++u) {
            __builtin_prefetch(a[u] + kAhead * lda + j);  // past A's end it is dropped, never a fault
            w[u] = load16(a[u] + j);
        }
        for (int m = 0; m < MB; ++m) {
            // One product added at a time: each a·b + c has one product, so where the clone has
            // FMA every step fuses, in every instance of this template alike.
            f32x16 sum = load16(y + m * N + j);
            for (int u = 0; u < RU; ++u) sum += x[m * K + k + u] * w[u];
            store16(y + m * N + j, sum);
        }
    }
    add_edge_columns(MB, RU, K, x, a, k, cols.c0, cols.a0, y, N);
    add_edge_columns(MB, RU, K, x, a, k, cols.a1, cols.c1, y, N);
}

template <int MB>
ATTEND_VECTOR_INLINE void input_major_rows(int64_t K, const float* x, const float* A, int64_t lda, int64_t k0,
                                           int64_t k1, const ColumnSpan& cols, float* y, int64_t N) {
    constexpr int U = 4;
    int64_t k = k0;
    for (; k + U <= k1; k += U) add_input_rows<MB, U>(K, x, A, lda, k, cols, y, N);
    for (; k < k1; ++k) add_input_rows<MB, 1>(K, x, A, lda, k, cols, y, N);
}

// y (M, N) += x[:, k0 .. k1) · A[k0 .. k1, :] for M ≤ 8 (N ≥ 16; fewer columns one at a time).
ATTEND_SIMD_CLONES void input_major_f32(int64_t M, int64_t k0, int64_t k1, int64_t N, int64_t K, const float* x,
                                        const float* A, int64_t lda, float* y) {
    if (N < kLanes) {
        for (int64_t m = 0; m < M; ++m)
            for (int64_t k = k0; k < k1; ++k)
                for (int64_t j = 0; j < N; ++j) y[m * N + j] += x[m * K + k] * A[k * lda + j];
        return;
    }
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

// input_major_f32, or its AVX2 + FMA form where the CPU runs the avx2 clone (ops/gemv_f32_avx2.hpp).
void input_major(int64_t M, int64_t k0, int64_t k1, int64_t N, int64_t K, const float* x, const float* A,
                 int64_t lda, float* y) {
    if (N >= kLanes && cpu_prefers_avx2_kernels())
        f32_input_major_avx2(M, k0, k1, N, K, x, A, lda, y);
    else
        input_major_f32(M, k0, k1, N, K, x, A, lda, y);
}

// Each thread takes a contiguous share of W's rows, a multiple of 16 rows (whole cache lines
// of y, and whole blocks of the sweep), so the threads stream disjoint parts of W. The shares
// follow the threads' measured speeds (core/share_balance.hpp): a row's result does not depend
// on which thread computes it, so the bits do not either. One thread calls rows() itself: no
// inactive region (core/parallel_loop.hpp says why), and inside a decoding step's team the
// shares go to its waiting threads.
// `work` as worth_threading counts it (fp32 weights' worth); chunks(c0, c1, alone) runs the
// chunks of 16 rows [c0, c1), `alone` when the split ran on one thread (ops/gemv_dot.hpp,
// RowOrder).
template <class Chunks>
void split_chunks(int64_t chunks, int64_t work, const Chunks& run) {
    const auto equal_share = [&](int64_t t, int64_t threads) {
        const int64_t c0 = chunks * t / threads, c1 = chunks * (t + 1) / threads;
        if (c0 < c1) run(c0, c1, threads == 1);
    };
    const int expected = threads_for(work, chunks);
    if (expected <= 1 || expected > ShareBalance::kMaxThreads) {  // one thread, or too many to balance
        run_shares(work, chunks, equal_share);
        return;
    }
    ShareBalance& balance = skinny_balance();
    ShareBalance::Split split = balance.split(chunks, expected);
    bool as_split = true;
    run_shares(work, chunks, [&](int64_t t, int64_t threads) {
        if (threads != split.threads) {  // an OpenMP region gave fewer threads than expected
            if (t == 0) as_split = false;  // thread 0 is the caller, which reads it after the join
            equal_share(t, threads);
            return;
        }
        const int64_t c0 = split.first(int(t)), c1 = split.last(int(t));
        if (c0 < c1) run(c0, c1, false);
        ShareBalance::finished(split, int(t));
    });
    if (as_split) balance.record(split);
}

// rows(n0, n1, alone) for each thread's share of W's N rows (split_chunks).
template <class Rows>
void split_rows(int64_t N, int64_t K, int64_t bytes_per_weight, const Rows& rows) {
    split_chunks((N + 15) / 16, N * K * bytes_per_weight / 4, [&](int64_t c0, int64_t c1, bool alone) {
        const int64_t n0 = std::min(N, c0 * 16), n1 = std::min(N, c1 * 16);
        if (n0 < n1) rows(n0, n1, alone);
    });
}

// Products of one x on the CPU's dot products (ops/gemv_dot.hpp), all of W's type and width:
// x prepared once, then the products' rows in order, each padded to whole chunks of 16 (a
// chunk never spans two), split as split_rows splits one matrix's — one product is exactly
// split_rows' work.
void dot_products_of(int64_t M, const float* x, std::span<const SharedInputProduct> products) {
    const LowPrecisionMatrix& first = *products[0].W;
    const int64_t K = first.cols();
    // Reused across calls, so decoding allocates nothing per token once warm.
    // The workers read the calling thread's copy: a lambda names a thread_local directly,
    // in each thread's own instance, so it goes by this reference instead.
    thread_local DotActivations reused;
    DotActivations& activations = reused;
    prepare_dot_activations(M, K, x, first, activations);
    const auto chunks_of = [](const SharedInputProduct& p) { return (p.W->rows() + 15) / 16; };
    int64_t chunks = 0, rows = 0;
    for (const SharedInputProduct& p : products) chunks += chunks_of(p), rows += p.W->rows();
    const int64_t bytes_per_weight = first.type() == WeightType::bf16 ? 2 : 1;
    split_chunks(chunks, rows * K * bytes_per_weight / 4, [&](int64_t c0, int64_t c1, bool alone) {
        int64_t start = 0;  // the chunk where product p starts (no buffer: this runs per token)
        for (const SharedInputProduct& p : products) {
            const int64_t end = start + chunks_of(p);
            const int64_t from = std::max(c0, start), to = std::min(c1, end);
            const int64_t n0 = (from - start) * 16, n1 = std::min(p.W->rows(), (to - start) * 16);
            if (n0 < n1) dot_rows(activations, *p.W, n0, n1, p.bias, p.y, alone);
            start = end;
        }
    });
}

}  // namespace

bool use_skinny_gemm(int64_t M, int64_t N, int64_t K) { return M <= kMaxSkinnyRows && N >= 16 && K >= 16; }

void skinny_gemm(int64_t M, int64_t N, int64_t K, const float* x, const float* W, const float* bias, float* y) {
    if (M <= 0 || N <= 0) return;
    if (cpu_prefers_avx2_kernels()) {  // AVX2 + FMA without AVX-512 (ops/gemv_f32_avx2.hpp)
        split_rows(N, K, 4, [&](int64_t n0, int64_t n1, bool) { f32_rows_avx2(M, n0, n1, N, K, x, W, bias, y); });
        return;
    }
    // Floats from W's start to its cache line's: the same for every row when K is a multiple of 16.
    const int64_t s = int64_t(reinterpret_cast<uintptr_t>(W) % 64) / int64_t(sizeof(float));
    if (s != 0 && K >= kLanes && K % kLanes == 0 && reinterpret_cast<uintptr_t>(W) % sizeof(float) == 0) {
        const F32Lines w{W, s};
        split_rows(N, K, 4, [&](int64_t n0, int64_t n1, bool alone) { rows_f32_lines(M, n0, n1, N, K, x, w, bias, y, alone); });
        return;
    }
    const F32Weights w{W, K};
    split_rows(N, K, 4, [&](int64_t n0, int64_t n1, bool alone) { rows_f32(M, n0, n1, N, K, x, w, bias, y, alone); });
}

// Threads split A's rows (the inputs), not its columns: each then reads one block of A front
// to back, where a share of the columns would be a short piece of every row (at two threads
// 1.5 KiB of q's 3 KiB; GPT-2 small's token 10.0 → 7.1 ms, test program). Each thread sums
// into its own copy of y; the copies are added in thread order, so the sums depend on the
// thread count but not on M.
void skinny_gemm_input_major(int64_t M, int64_t N, int64_t K, const float* x, const float* A, int64_t lda,
                             const float* bias, float* y) {
    if (M <= 0 || N <= 0) return;
    const auto start = [&](int64_t rows, float* out) {  // y's rows = bias (or 0)
        for (int64_t m = 0; m < rows; ++m)
            for (int64_t j = 0; j < N; ++j) out[m * N + j] = bias ? bias[j] : 0.f;
    };
    const int64_t groups = (K + 3) / 4;  // the kernel's 4 rows at a time
    const int threads = threads_for(N * K, groups);
    thread_local std::vector<float> reused;  // the other threads' copies of y, kept across calls
    std::vector<float>& partials = reused;
    for (int64_t m0 = 0; m0 < M; m0 += 8) {  // the kernel takes up to 8 rows of x at once
        const int64_t rows = std::min<int64_t>(8, M - m0);
        const float* xm = x + m0 * K;
        float* ym = y + m0 * N;
        if (threads <= 1) {
            start(rows, ym);
            input_major(rows, 0, K, N, K, xm, A, lda, ym);
            continue;
        }
        partials.resize(size_t((threads - 1) * rows * N));
        std::atomic<int> summed{1};  // the threads that summed a part: an OpenMP region may have fewer
        run_shares(N * K, groups, [&](int64_t t, int64_t n) {
            const int64_t k0 = std::min(K, groups * t / n * 4), k1 = std::min(K, groups * (t + 1) / n * 4);
            float* mine = t == 0 ? ym : partials.data() + (t - 1) * rows * N;
            if (t == 0) start(rows, mine), summed.store(int(n), std::memory_order_relaxed);
            else std::fill_n(mine, rows * N, 0.f);
            input_major(rows, k0, k1, N, K, xm, A, lda, mine);
        });
        const int64_t parts = summed.load(std::memory_order_relaxed), chunks = (N + 15) / 16;
        run_shares(rows * N * parts, chunks, [&](int64_t t, int64_t n) {
            const int64_t c0 = std::min(N, chunks * t / n * 16), c1 = std::min(N, chunks * (t + 1) / n * 16);
            for (int64_t s = 1; s < parts; ++s)
                for (int64_t m = 0; m < rows; ++m) {
                    const float* p = partials.data() + (s - 1) * rows * N + m * N;
                    for (int64_t j = c0; j < c1; ++j) ym[m * N + j] += p[j];
                }
        });
    }
}

void skinny_gemm(int64_t M, const float* x, const LowPrecisionMatrix& W, const float* bias, float* y,
                 bool dot_products) {
    const int64_t N = W.rows(), K = W.cols();
    if (M <= 0 || N <= 0) return;
    if (dot_products && has_dot_products(W)) {  // the CPU's bf16 / int8 dot products (ops/gemv_dot.hpp)
        const SharedInputProduct product{&W, bias, y};
        dot_products_of(M, x, {&product, 1});
        return;
    }
    if (W.type() == WeightType::bf16) {
        const Bf16Weights w{W.bf16(), K};
        split_rows(N, K, 2, [&](int64_t n0, int64_t n1, bool alone) { rows_bf16(M, n0, n1, N, K, x, w, bias, y, alone); });
    } else {
        const Int8Weights w{W.int8(), W.scales(), K, W.blocks_per_row()};
        split_rows(N, K, 1, [&](int64_t n0, int64_t n1, bool alone) { rows_int8(M, n0, n1, N, K, x, w, bias, y, alone); });
    }
}

bool fits_shared_input(int64_t M, int64_t K, std::span<const SharedInputProduct> products) {
    if (products.size() < 2) return false;
    for (const SharedInputProduct& p : products)
        if (p.W->type() != products[0].W->type() || p.W->cols() != K || !has_dot_products(*p.W) ||
            !use_skinny_gemm(M, p.W->rows(), K))
            return false;
    return true;
}

void skinny_gemm_shared_input(int64_t M, const float* x, std::span<const SharedInputProduct> products) {
    ATTEND_CHECK(fits_shared_input(M, products.empty() ? 0 : products[0].W->cols(), products),
                 "skinny_gemm_shared_input: products that do not fit (fits_shared_input)");
    dot_products_of(M, x, products);
}

}  // namespace attend
