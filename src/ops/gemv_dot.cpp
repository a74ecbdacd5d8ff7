// ops/gemv_dot.cpp — decoding products on vdpbf16ps and vpdpbusd (see ops/gemv_dot.hpp).
//
// The kernels are AVX-512 intrinsics compiled for the instructions they need (a target
// pragma below), reached only after has_dot_products() asked the CPU. Everything that is not
// a kernel — the activations' preparation, the standard library — stays above the pragma, so
// no inline function the rest of the program shares is compiled with AVX-512 here.
#include "ops/gemv_dot.hpp"

#include <immintrin.h>

#include "attend/cpu_features.hpp"
#include "attend/low_precision.hpp"

namespace attend {

namespace {

constexpr int64_t kChunkBytes = 64;
constexpr int64_t kPrefetchBytes = 12 * 1024;  // how far ahead the int8 kernel asks for W (prefetch_distance)

bool cpu_has_int8_dot() { return cpu_features().avx512_vnni; }

}  // namespace

bool cpu_has_bf16_dot() { return cpu_features().avx512_bf16; }

bool has_dot_products(const LowPrecisionMatrix& W) {
    switch (W.type()) {
        case WeightType::bf16: return cpu_has_bf16_dot() || cpu_has_avx2_fma();
        case WeightType::int8: return cpu_has_int8_dot() || cpu_has_avx2_fma();
        default: return false;
    }
}

namespace {
void prepare_bf16(int64_t M, int64_t K, const float* x, DotActivations& a);
void prepare_int8(int64_t M, int64_t K, const float* x, DotActivations& a);
}  // namespace

void prepare_dot_activations(int64_t M, int64_t K, const float* x, const LowPrecisionMatrix& W, DotActivations& a) {
    const int64_t bytes = W.type() == WeightType::bf16 ? 2 : 1;
    a.M = M;
    a.K = K;
    a.chunks = (K * bytes + kChunkBytes - 1) / kChunkBytes;
    if (W.type() == WeightType::bf16) {
        if (cpu_has_bf16_dot()) {
            a.bf16.resize(size_t(M * a.chunks * 32));  // every value is written below
            prepare_bf16(M, K, x, a);
        } else {
            a.f32_pairs.resize(size_t(M * a.chunks * 32));
            prepare_bf16_avx2(M, K, x, a);
        }
    } else {
        a.int8.resize(size_t(M * a.chunks * kChunkBytes));
        a.scales.assign(size_t(M * a.scale_stride()), 0.f);  // 0: the padding past the last block
        if (cpu_has_int8_dot()) {
            a.shift_sums.resize(size_t(M * a.chunks * 16));
            prepare_int8(M, K, x, a);
        } else {
            prepare_int8_avx2(M, K, x, a);
        }
    }
}

// ---- kernels: AVX-512 from here on; no standard-library calls below this line ----
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512bf16")
// GCC 12 warns that the intrinsics' own _mm512_undefined_* placeholders "may be used
// uninitialized" once they are inlined under a target pragma: a false report inside its headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// x rounded to bf16 (vcvtneps2bf16: to nearest even), zero past K.
void prepare_bf16(int64_t M, int64_t K, const float* x, DotActivations& a) {
    const int64_t width = a.chunks * 32;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < width; k += 16) {
            const __mmask16 keep = K - k >= 16 ? __mmask16(0xffff) : K > k ? __mmask16((1u << (K - k)) - 1) : 0;
            const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(keep, x + m * K + k));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.bf16.data() + m * width + k), (__m256i)h);
        }
}

// Per block of 32 columns: sx = max|x| / 127, qx = round(x / sx) (to nearest even) (a block of
// zeros, or past K: sx = 0, qx = 0); then per chunk of 64 columns, each lane's −128 · Σ qx.
void prepare_int8(int64_t M, int64_t K, const float* x, DotActivations& a) {
    static_assert(LowPrecisionMatrix::kBlock == 32, "a 64-byte chunk holds two blocks: lanes 0–7 sum the first");
    const int64_t width = a.chunks * 64, blocks = a.chunks * 2;
    const __m512 sign = _mm512_set1_ps(-0.f);
    auto keep = [K](int64_t k0) {
        return K - k0 >= 16 ? __mmask16(0xffff) : K > k0 ? __mmask16((1u << (K - k0)) - 1) : __mmask16(0);
    };
    for (int64_t m = 0; m < M; ++m)
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t k = b * 32;
            const __m512 lo = _mm512_maskz_loadu_ps(keep(k), x + m * K + k);
            const __m512 hi = _mm512_maskz_loadu_ps(keep(k + 16), x + m * K + k + 16);
            const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, lo), _mm512_andnot_ps(sign, hi)));
            const __m512 inv = _mm512_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
            const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)), qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv));
            int8_t* q = a.int8.data() + m * width + k;
            _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(qlo));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(qhi));
            a.scales[size_t(m * a.scale_stride() + b)] = amax / 127.f;
        }
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t m = 0; m < M; ++m)
        for (int64_t c = 0; c < a.chunks; ++c) {
            const __m512i q = _mm512_loadu_si512(a.int8.data() + m * width + c * 64);
            const __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, q);  // Σ of each lane's 4 qx
            _mm512_storeu_si512(a.shift_sums.data() + (m * a.chunks + c) * 16,
                                _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sums, 7)));
        }
}

// Σ of the 16 lanes, a tree of halves (_mm512_reduce_add_ps draws a GCC 12 warning).
inline float sum16(__m512 v) {
    const __m256 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                     __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m128 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    return (b[0] + b[2]) + (b[1] + b[3]);
}

// Rows of W in kPrefetchBytes, for a row of `row_bytes`: how far ahead the int8 kernel prefetches.
inline int64_t prefetch_distance(int64_t row_bytes) {
    return row_bytes > 0 ? (kPrefetchBytes + row_bytes - 1) / row_bytes : 1;
}

// Where the int8 kernel prefetches: the line of the row kPrefetchBytes ahead that lies as far
// into that row as the line being read now, one prefetch per 64-byte line read. Where that row
// is past W's last, the row itself (lines already on their way): no test in the loop, where one
// split the loop into blocks and GCC kept the accumulators in memory.
//
// From memory one thread read int8 weights at ~31 GB/s where it read bf16 at ~41: a 64-byte
// int8 chunk costs ~8 instructions against bf16's 3, so the out-of-order window holds fewer
// lines in flight and the hardware prefetcher alone does not cover the latency. Asking 12 KiB
// ahead: 30.9 → 33.4 and 29.7 → 37.1 GB/s (50257 × 768 int8, M = 1, one thread, four such
// matrices in turn so every read comes from memory, interleaved with calls without it, medians
// of 60); two threads 55 → 57 GB/s.
//
// Those prefetches went out as one burst at the start of each row, the whole row ahead at once
// (12 lines for a 768-column row, 48 for 3072), and longer rows read slower (rows of 3072 at
// 22–26 GB/s where rows of 768 read at 27–29). One prefetch beside each line read spreads them
// over the row, as the AVX2 kernels (ops/gemv_dot_avx2.cpp) always did. Each form its own
// instantiation, alternated in one process (faster in n of m), GPT-2 small's 49 int8 products of
// a token, M = 1: one thread 4.85 → 4.63 and 4.81 → 4.57 ms (16 and 19 of 20), two threads 2.40
// → 2.30 ms (12 of 20). Prefetching none of W was slower than either: burst → none 4.10 → 4.40
// ms (7 of 20), spread → none 5.82 → 6.68 ms (0 of 20). `generate` 16 + 128 int8 tokens: 196.4
// → 206.5 tok/s (8 of 8) at one thread, 329.2 → 334.2 (5 of 8) at two.
//
// The bf16 kernel prefetches nothing. It had a row-at-once prefetch in a helper of its own, but
// GCC takes a function that only prefetches for one without effects and dropped every call to
// it: the kernel's code held no prefetch instruction. Given one beside each line, bf16 came out
// even in one process at one thread (none → spread 9.93 → 9.88 ms for GPT-2 small's bf16
// products, 12 of 20) and ahead at two (8.12 → 7.02 ms, 19 of 20); alternated by process against
// the library before, it looked slower (products 7.6–8.2 → 9.1–10.4 ms in 6 of 6, the decode
// bench's bf16 ÷ f32 2.03 / 2.24 → 1.69 / 1.74 at one / two threads), though the earlier library
// always ran first there, and run second it was the slower one (10.7 and 12.1 against 7.9 and
// 9.0 ms). Not settled on this VM, so bf16 keeps what it had: the hardware prefetcher alone.
inline const char* prefetch_base(int64_t n, int64_t distance, int64_t N, const void* row, int64_t row_bytes) {
    return static_cast<const char*>(row) + (n + distance < N ? distance * row_bytes : 0);
}
// Always inlined: a call GCC does not inline first it drops (see above).
inline __attribute__((always_inline)) void prefetch_line(const char* ahead, int64_t offset) {
    _mm_prefetch(ahead + offset, _MM_HINT_T0);
}

// Columns left in a chunk that starts at column k, as a mask of its values.
inline __mmask64 tail_mask8(int64_t left) { return left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1; }
inline __mmask32 tail_mask16(int64_t left) { return left >= 32 ? ~__mmask32(0) : (__mmask32(1) << left) - 1; }

// U accumulators per row of x hide the dot-product instruction's latency: whole chunks U at a
// time, the rest (the last one masked where K ends inside it) into the first — constant
// indices keep them in registers — added in a fixed order, the same for every MB and R.
constexpr int U = 4;

// bf16 weights: acc += x·w over 32 columns per instruction.
// x, y point at the block's first row of x (DotActivations::bf16) and of y.
struct Bf16Kernel {
    static constexpr bool kPairsInATeam = true;  // RowPairs: also where threads share W
    const uint16_t* x;
    int64_t x_stride, chunks, K;
    const uint16_t* w;
    const float* bias;
    float* y;
    int64_t N;

    Bf16Kernel rows_from(int64_t m) const {
        Bf16Kernel k = *this;
        k.x += m * x_stride;
        k.y += m * N;
        return k;
    }

    // Rows n[0 .. R) of W against MB rows of x (R = 2: RowPairs, their loads interleaved), in
    // the order the caller gives: one or two streams the hardware prefetcher follows (rows of
    // 1.5–6 KB read 8 at a time are each too short for it).
    template <int MB, int R>
    void run(const int64_t (&n)[R]) const {
        const uint16_t* row[R];
        for (int r = 0; r < R; ++r) row[r] = w + n[r] * K;
        __m512 acc[R][MB][U];
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < MB; ++m)
                for (int u = 0; u < U; ++u) acc[r][m][u] = _mm512_setzero_ps();
        auto chunk = [&](int64_t c, int u, __mmask32 keep) __attribute__((always_inline)) {
            const int64_t k = c * 32;
            for (int r = 0; r < R; ++r) {
                const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(keep, row[r] + k);
                for (int m = 0; m < MB; ++m)
                    acc[r][m][u] = _mm512_dpbf16_ps(acc[r][m][u], (__m512bh)_mm512_loadu_si512(x + m * x_stride + k), wv);
            }
        };
        const int64_t whole = K / 32;  // chunks with no column past K
        int64_t c = 0;
        for (; c + U <= whole; c += U)
            for (int u = 0; u < U; ++u) chunk(c + u, u, ~__mmask32(0));
        for (; c < chunks; ++c) chunk(c, 0, tail_mask16(K - c * 32));
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < MB; ++m)
                y[m * N + n[r]] = sum16(_mm512_add_ps(_mm512_add_ps(acc[r][m][0], acc[r][m][1]),
                                                      _mm512_add_ps(acc[r][m][2], acc[r][m][3]))) +
                                  (bias ? bias[n[r]] : 0.f);
    }
};

// int8 weights with their block scales, shifted to unsigned (see the header).
// Chunks go in pairs: the pair's four block scales of W and of x are multiplied as one 4-float
// vector and spread by two permutes to the lanes that sum each block (0–7 the chunk's first
// block, 8–15 its second). Loading and spreading two scales per chunk instead (a masked load,
// a permute, and a multiply by 16 stored copies of sx) cost a third of the kernel's time:
// 5.4 → 3.5 ms for GPT-2 small's products with the scales left out altogether (one thread).
struct Int8Kernel {
    static constexpr bool kPairsInATeam = false;  // RowPairs: only a thread reading alone
    const int8_t* qx;           // DotActivations::int8 at the block's first row
    const int32_t* shift_sums;  // DotActivations::shift_sums at the same row
    const float* sx;            // DotActivations::scales at the same row
    int64_t x_stride, sx_stride, chunks, K;
    const int8_t* q;
    const float* scales;
    int64_t blocks;
    const float* bias;
    float* y;
    int64_t N;
    int64_t prefetch_rows;  // prefetch_distance of a row

    Int8Kernel rows_from(int64_t m) const {
        Int8Kernel k = *this;
        k.qx += m * x_stride;
        k.shift_sums += m * chunks * 16;
        k.sx += m * sx_stride;
        k.y += m * N;
        return k;
    }

    // Rows n[0 .. R) of W against MB rows of x (R = 2: RowPairs).
    template <int MB, int R>
    void run(const int64_t (&n)[R]) const {
        const __m512i first = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        const __m512i second = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
        const __m512i sign_bit = _mm512_set1_epi8(char(0x80));
        const int8_t* row[R];
        const float* row_scales[R];
        const char* ahead[R];  // prefetch_base: the row prefetch_rows on; its scales are one line
        for (int r = 0; r < R; ++r) {
            row[r] = q + n[r] * K;
            row_scales[r] = scales + n[r] * blocks;
            ahead[r] = prefetch_base(n[r], prefetch_rows, N, row[r], K);
            prefetch_line(prefetch_base(n[r], prefetch_rows, N, row_scales[r], sizeof(float) * blocks), 0);
        }
        __m512 acc[R][MB][U], scale0[R][MB], scale1[R][MB];
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < MB; ++m)
                for (int u = 0; u < U; ++u) acc[r][m][u] = _mm512_setzero_ps();
        // (sx · sw) of chunks 2p and 2p + 1 (blocks b = 4p .. 4p + 3), per row of x, spread to
        // their lanes; sw holds row r's scales of those blocks.
        auto spread_scales = [&](int r, __m128 sw, int64_t b) __attribute__((always_inline)) {
            for (int m = 0; m < MB; ++m) {
                const __m512 s4 = _mm512_castps128_ps512(_mm_mul_ps(sw, _mm_loadu_ps(sx + m * sx_stride + b)));
                scale0[r][m] = _mm512_permutexvar_ps(first, s4);
                scale1[r][m] = _mm512_permutexvar_ps(second, s4);
            }
        };
        auto pair_scales = [&](int64_t p) __attribute__((always_inline)) {
            const int64_t b = 4 * p;
            for (int r = 0; r < R; ++r)
                spread_scales(r,
                              blocks - b >= 4 ? _mm_loadu_ps(row_scales[r] + b)
                                              : _mm_maskz_loadu_ps(__mmask8((1u << (blocks - b)) - 1), row_scales[r] + b),
                              b);
        };
        // Two whole chunks hold 4 whole blocks: their scales load unmasked, with no test. Without
        // pair_scales' bounds test and mask the main loop went from ~12.5 to 9 instructions a
        // chunk (objdump), and GPT-2 small's int8 linears from 6.27 to 6.17 ms at one thread and
        // 4.05 to 3.93 ms at two (all 73 matrices in turn, one process, alternating with the
        // old loop, medians of 30).
        auto whole_pair_scales = [&](int64_t p) __attribute__((always_inline)) {
            for (int r = 0; r < R; ++r) spread_scales(r, _mm_loadu_ps(row_scales[r] + 4 * p), 4 * p);
        };
        // Chunk c into accumulator u, with the scales of its half of the pair (scale0 or scale1).
        auto chunk = [&](int64_t c, const __m512 (&scale)[R][MB], int u, bool whole) __attribute__((always_inline)) {
            const int64_t k = c * 64;
            for (int r = 0; r < R; ++r) prefetch_line(ahead[r], k);
            __m512i wv[R];  // qw + 128 as unsigned bytes; past K the loaded 0 becomes 128, against qx = 0
            for (int r = 0; r < R; ++r)
                wv[r] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(whole ? ~__mmask64(0) : tail_mask8(K - k), row[r] + k),
                                         sign_bit);
            for (int m = 0; m < MB; ++m) {
                const __m512i start = _mm512_loadu_si512(shift_sums + (m * chunks + c) * 16);
                const __m512i xv = _mm512_loadu_si512(qx + m * x_stride + k);
                for (int r = 0; r < R; ++r) {
                    const __m512i dot = _mm512_dpbusd_epi32(start, wv[r], xv);
                    acc[r][m][u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale[r][m], acc[r][m][u]);
                }
            }
        };
        const int64_t whole = K / 64;  // chunks with no column past K
        int64_t c = 0;
        for (; c + 4 <= whole; c += 4) {
            whole_pair_scales(c / 2);
            chunk(c, scale0, 0, true);
            chunk(c + 1, scale1, 1, true);
            whole_pair_scales(c / 2 + 1);
            chunk(c + 2, scale0, 2, true);
            chunk(c + 3, scale1, 3, true);
        }
        for (; c < chunks; c += 2) {
            pair_scales(c / 2);
            chunk(c, scale0, 0, c < whole);
            if (c + 1 < chunks) chunk(c + 1, scale1, 1, c + 1 < whole);
        }
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < MB; ++m)
                y[m * N + n[r]] = sum16(_mm512_add_ps(_mm512_add_ps(acc[r][m][0], acc[r][m][1]),
                                                      _mm512_add_ps(acc[r][m][2], acc[r][m][3]))) +
                                  (bias ? bias[n[r]] : 0.f);
    }
};

// The rows [n0, n1) of W against the rows of x: 4 rows of x at a time (each weight loaded once
// per 4) in RowOrder; one row of x against two rows of W at a time where RowPairs says so.
template <class Kernel>
inline void rows_of_w(int64_t M, int64_t n0, int64_t n1, bool alone, const Kernel& kernel) {
    if (M == 1) {
        RowPairs(n0, n1, alone || Kernel::kPairsInATeam)
            .visit([&](const int64_t (&pair)[2]) { kernel.template run<1, 2>(pair); },
                   [&](int64_t n) { kernel.template run<1, 1>({n}); });
        return;
    }
    const RowOrder order(n0, n1, alone);
    const int64_t rows = order.size();
    int64_t m = 0;
    for (; m + 4 <= M; m += 4)
        for (int64_t i = 0; i < rows; ++i) kernel.rows_from(m).template run<4, 1>({order[i]});
    const Kernel rest = kernel.rows_from(m);
    switch (M - m) {
        case 3: for (int64_t i = 0; i < rows; ++i) rest.template run<3, 1>({order[i]}); break;
        case 2: for (int64_t i = 0; i < rows; ++i) rest.template run<2, 1>({order[i]}); break;
        case 1: for (int64_t i = 0; i < rows; ++i) rest.template run<1, 1>({order[i]}); break;
        default: break;
    }
}

void bf16_rows(const DotActivations& a, const LowPrecisionMatrix& W, int64_t n0, int64_t n1, const float* bias,
               float* y, bool alone) {
    const Bf16Kernel kernel{a.bf16.data(), a.chunks * 32, a.chunks, a.K, W.bf16(), bias, y, W.rows()};
    rows_of_w(a.M, n0, n1, alone, kernel);
}

void int8_rows(const DotActivations& a, const LowPrecisionMatrix& W, int64_t n0, int64_t n1, const float* bias,
               float* y, bool alone) {
    const Int8Kernel kernel{a.int8.data(), a.shift_sums.data(), a.scales.data(), a.chunks * 64, a.scale_stride(), a.chunks, a.K,
                            W.int8(), W.scales(), W.blocks_per_row(), bias, y, W.rows(),
                            prefetch_distance(a.K)};
    rows_of_w(a.M, n0, n1, alone, kernel);
}

}  // namespace
#pragma GCC diagnostic pop
#pragma GCC pop_options

void dot_rows(const DotActivations& a, const LowPrecisionMatrix& W, int64_t n0, int64_t n1, const float* bias,
              float* y, bool alone) {
    if (W.type() == WeightType::bf16)
        cpu_has_bf16_dot() ? bf16_rows(a, W, n0, n1, bias, y, alone) : bf16_rows_avx2(a, W, n0, n1, bias, y);
    else if (cpu_has_int8_dot())
        int8_rows(a, W, n0, n1, bias, y, alone);
    else
        int8_rows_avx2(a, W, n0, n1, bias, y, alone);
}

}  // namespace attend
