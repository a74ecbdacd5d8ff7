// ops/gemv_dot_avx2.cpp — decoding products on AVX2 with FMA, for CPUs without AVX512-VNNI or
// AVX512-BF16 (see ops/gemv_dot.hpp).
//
// int8: the same scheme as the VNNI kernel (llama.cpp's Q8_0 × Q8_0): x quantised per block
// of 32 columns like the weights, sx = max|x| / 127, qx = round(x / sx); per block
// y += (sx · sw) · Σ qx · qw. AVX2 has no vpdpbusd; vpmaddubsw multiplies unsigned by signed
// bytes and adds each pair into a saturating 16-bit lane, then vpmaddwd by ones adds the pairs
// of those into 32-bit lanes. The unsigned side is |qw| and the signed side qx with qw's sign
// (vpsignb; a zero weight zeroes the product): |qw|, |qx| ≤ 127 (adopt_int8 refuses −128), so
// a pair is at most 2 · 127² = 32258 and never saturates.
// Each 32-column block of a row is one 32-byte vector: 11 instructions (load, abs, load,
// sign, two multiply-adds, convert, the block's scale broadcast and multiplied, the FMA)
// against the widening kernel's (ops/gemv.cpp) ~20 for the same 32 weights.
//
// bf16: AVX2 has no bf16 product, so the weights are widened — but without the widening
// kernel's zero-extension of every 16-bit value: one 32-byte load holds 16 weights as 8 pairs
// (w[2i] in the low half of 32-bit lane i, w[2i+1] in the high half). A bf16 value is the top
// half of its fp32, so lane << 16 is w[2i] and lane & 0xffff0000 is w[2i+1], exactly; each is
// multiplied into the sum with x's even or odd columns, which the preparation lays out that
// way once per call (DotActivations::f32_pairs). Per 16 weights: a load, a shift, an and, two
// FMAs (x read from L1 by the FMAs) — where the widening kernel, compiled for AVX2 without
// FMA, spends two zero-extensions, two shifts, two multiplies and two adds. x stays fp32, so
// the sums are those of the widened matrix (no rounding of x, unlike vdpbf16ps).
//
// Each output is the same sequence of operations whatever the other rows of x or the thread
// split.
#include <immintrin.h>

#include <cstring>

#include "attend/cpu_features.hpp"
#include "attend/low_precision.hpp"
#include "ops/avx2_sums.hpp"
#include "ops/gemv_dot.hpp"
#include "ops/gemv_row_order.hpp"

namespace attend {

bool cpu_has_avx2_fma() { return cpu_features().avx2_fma; }

// ---- kernels: AVX2 from here on; no standard-library calls below this line but memcpy ----
#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace {

constexpr int64_t kBlock = LowPrecisionMatrix::kBlock;  // 32 int8 values: one block, one 32-byte vector
constexpr int64_t kPairs = 16;                          // 16 bf16 values: one 32-byte vector
static_assert(kBlock == 32, "a block of int8 values is one AVX2 vector");

// Each step of the kernels below reads whole cache lines of a row of W (int8: 128 bytes, two
// lines; bf16: 64 bytes, one) and asks for the two lines this many bytes further on. W is read
// front to back, row after row, but the hardware prefetcher alone kept the bf16 kernel at
// 15.0–15.7 GB/s and the int8 one at 13.8–15.7 (GPT-2's 3072 × 768, 40 matrices round robin,
// one thread, medians of 15, distances alternated in one process) against 16.3–18.0 for the f32
// kernel, which does half the work per byte. Measured ahead (both kernels then in 128-byte
// steps): bf16 1 KiB 16.4–17.1 GB/s (2 KiB 14.3–15.4); int8 2 KiB 18.2–20.7 (1 KiB 17.0–18.6,
// 4 KiB alike); the f32 kernel gained nothing and has none.
// bf16 now steps 64 bytes (four rows side by side, bf16_rows_avx2) and still asks for two lines
// a step, so each line is asked for twice: GPT-2 small's `generate` 16 + 128, one thread, four
// rows, one process alternating: one line a step 58.2 → two 65.1 tok/s (9 of 12 alternations).
// A prefetch past the end of W is dropped, never a fault.
constexpr int64_t kBf16PrefetchBytes = 1024, kInt8PrefetchBytes = 2048;

inline __attribute__((always_inline)) void prefetch_step(const void* step, int64_t ahead) {
    const char* p = static_cast<const char*>(step) + ahead;
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
}

// One block of 32 values of x: sx = max|x| / 127, qx = round(x · 127 / max|x|) to nearest even
// (vcvtps2dq), as the VNNI kernel's preparation computes them; a block of zeros: sx = 0, qx = 0.
void quantize_block(const float* x, int8_t* q, float* scale) {
    const __m256 sign = _mm256_set1_ps(-0.f);
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
                 v3 = _mm256_loadu_ps(x + 24);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    const float amax = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
    const __m256 inv = _mm256_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
    const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, inv)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, inv)),
                  i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, inv)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, inv));
    // The packs work within 128-bit halves: bytes come out as 4-value groups in the order
    // 0 2 4 6 1 3 5 7 (group g = values 4g … 4g + 3); one permute of 32-bit lanes restores it.
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                        _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    *scale = amax / 127.f;
}

// Rows of W against MB rows of x (the activations from row m of x on): per block, the
// products as above into U float accumulators per row of x (the multiply-add latency), added
// in a fixed order at the end.
struct Int8Avx2Kernel {
    const int8_t* qx;  // DotActivations::int8 at the first row
    const float* sx;   // DotActivations::scales at the same row
    int64_t x_stride, sx_stride, K;
    const int8_t* q;
    const float* scales;
    int64_t blocks;
    const float* bias;
    float* y;
    int64_t N;

    Int8Avx2Kernel rows_from(int64_t m) const {
        Int8Avx2Kernel k = *this;
        k.qx += m * x_stride;
        k.sx += m * sx_stride;
        k.y += m * N;
        return k;
    }

    // Rows n[0 .. R) of W against MB rows of x (R = 2: RowPairs, their loads interleaved); a
    // row's sums are the same operations with or without a partner.
    template <int MB, int R>
    void run(const int64_t (&n)[R]) const {
        constexpr int U = 4;
        const int8_t* row[R];
        const float* row_scales[R];
        for (int r = 0; r < R; ++r) row[r] = q + n[r] * K, row_scales[r] = scales + n[r] * blocks;
        const __m256i ones = _mm256_set1_epi16(1);
        __m256 acc[R][MB][U];
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < MB; ++m)
                for (int u = 0; u < U; ++u) acc[r][m][u] = _mm256_setzero_ps();
        auto block = [&](int64_t b, const __m256i (&w)[R], int u) __attribute__((always_inline)) {
            for (int r = 0; r < R; ++r) {
                const __m256i aw = _mm256_abs_epi8(w[r]);
                const __m256 sw = _mm256_broadcast_ss(row_scales[r] + b);
                for (int m = 0; m < MB; ++m) {
                    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qx + m * x_stride + b * kBlock));
                    const __m256i pairs = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w[r]));
                    const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
                    const __m256 scale = _mm256_mul_ps(sw, _mm256_broadcast_ss(sx + m * sx_stride + b));
                    acc[r][m][u] = _mm256_fmadd_ps(dot, scale, acc[r][m][u]);
                }
            }
        };
        auto load = [&](int64_t b, __m256i (&w)[R]) __attribute__((always_inline)) {
            for (int r = 0; r < R; ++r) w[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row[r] + b * kBlock));
        };
        const int64_t whole = K / kBlock;
        int64_t b = 0;
        for (; b + U <= whole; b += U) {
            for (int r = 0; r < R; ++r) prefetch_step(row[r] + b * kBlock, kInt8PrefetchBytes);
            for (int u = 0; u < U; ++u) {
                __m256i w[R];
                load(b + u, w);
                block(b + u, w, u);
            }
        }
        for (int u = 0; b < whole; ++b, ++u) {
            __m256i w[R];
            load(b, w);
            block(b, w, u);
        }
        if (whole < blocks) {  // a last, shorter block: its weights copied (a load would pass the row's end)
            alignas(32) int8_t tail[R][kBlock] = {};
            __m256i w[R];
            for (int r = 0; r < R; ++r) {
                std::memcpy(tail[r], row[r] + whole * kBlock, size_t(K - whole * kBlock));
                w[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail[r]));
            }
            block(whole, w, 0);
        }
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < MB; ++m)
                y[m * N + n[r]] = avx2::sum_of_4(acc[r][m]) + (bias ? bias[n[r]] : 0.f);
    }
};

// R rows of bf16 W against MB rows of x (f32_pairs from row m of x on), MB · R ≤ 4: per 16
// columns, each output's even and odd products into the same accumulator, U = 2 accumulators
// per output (two FMA chains; four rows of W take 8 of the 16 registers), added in a fixed
// order at the end. The vector of columns j goes to accumulator j mod U (the tail into the
// first) whatever MB and R are, so an output is the same bits alone, in a batch, or beside
// other rows of W.
struct Bf16Avx2Kernel {
    const float* x;  // DotActivations::f32_pairs at the first row
    int64_t x_stride, K;
    const uint16_t* w;
    const float* bias;
    float* y;
    int64_t N;

    Bf16Avx2Kernel rows_from(int64_t m) const {
        Bf16Avx2Kernel k = *this;
        k.x += m * x_stride;
        k.y += m * N;
        return k;
    }

    // Rows r[0..R-1] of W, side by side: x loaded once for all of them.
    template <int MB, int R>
    void run(const int64_t (&r)[R]) const {
        constexpr int U = 2;
        const __m256i odd = _mm256_set1_epi32(int32_t(0xffff0000u));
        const uint16_t* rows[R];
        for (int i = 0; i < R; ++i) rows[i] = w + r[i] * K;
        __m256 acc[MB][R][U];
        for (int m = 0; m < MB; ++m)
            for (int i = 0; i < R; ++i)
                for (int u = 0; u < U; ++u) acc[m][i][u] = _mm256_setzero_ps();
        // Columns [16j, 16j + 16): each row of W holds their weights as pairs.
        auto vector = [&](int64_t j, int u, const __m256i (&pairs)[R]) __attribute__((always_inline)) {
            __m256 xe[MB], xo[MB];
            for (int m = 0; m < MB; ++m) {
                xe[m] = _mm256_loadu_ps(x + m * x_stride + j * kPairs);
                xo[m] = _mm256_loadu_ps(x + m * x_stride + j * kPairs + 8);
            }
            for (int i = 0; i < R; ++i) {
                const __m256 we = _mm256_castsi256_ps(_mm256_slli_epi32(pairs[i], 16));
                const __m256 wo = _mm256_castsi256_ps(_mm256_and_si256(pairs[i], odd));
                for (int m = 0; m < MB; ++m) {
                    acc[m][i][u] = _mm256_fmadd_ps(we, xe[m], acc[m][i][u]);
                    acc[m][i][u] = _mm256_fmadd_ps(wo, xo[m], acc[m][i][u]);
                }
            }
        };
        auto load = [&](int64_t j, __m256i (&pairs)[R]) __attribute__((always_inline)) {
            for (int i = 0; i < R; ++i) pairs[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[i] + j * kPairs));
        };
        const int64_t whole = K / kPairs;
        int64_t j = 0;
        for (; j + U <= whole; j += U) {
            for (int i = 0; i < R; ++i) prefetch_step(rows[i] + j * kPairs, kBf16PrefetchBytes);
            for (int u = 0; u < U; ++u) {
                __m256i pairs[R];
                load(j + u, pairs);
                vector(j + u, u, pairs);
            }
        }
        for (int u = 0; j < whole; ++j, ++u) {
            __m256i pairs[R];
            load(j, pairs);
            vector(j, u, pairs);
        }
        if (whole * kPairs < K) {  // a last, shorter vector: its weights copied (a load would pass the row's end)
            alignas(32) uint16_t tail[R][kPairs] = {};
            __m256i pairs[R];
            for (int i = 0; i < R; ++i) {
                std::memcpy(tail[i], rows[i] + whole * kPairs, size_t(K - whole * kPairs) * sizeof(uint16_t));
                pairs[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail[i]));
            }
            vector(whole, 0, pairs);
        }
        for (int m = 0; m < MB; ++m)
            for (int i = 0; i < R; ++i) y[m * N + r[i]] = avx2::sum_of_2(acc[m][i]) + (bias ? bias[r[i]] : 0.f);
    }
};

}  // namespace

void prepare_int8_avx2(int64_t M, int64_t K, const float* x, DotActivations& a) {
    const int64_t width = a.chunks * 64, blocks = a.chunks * 2;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t k = b * kBlock;
            int8_t* q = a.int8.data() + m * width + k;
            float* scale = a.scales.data() + m * a.scale_stride() + b;
            if (k + kBlock <= K) {
                quantize_block(x + m * K + k, q, scale);
            } else {  // past K: zeros (a block wholly past it quantises to sx = 0, qx = 0)
                float padded[kBlock] = {};
                if (K > k) std::memcpy(padded, x + m * K + k, size_t(K - k) * sizeof(float));
                quantize_block(padded, q, scale);
            }
        }
}

// Decoding one sequence: two rows of W side by side (RowPairs), alone or in a team; several
// rows of x: each row of W against 4 of them at a time, in RowOrder.
void int8_rows_avx2(const DotActivations& a, const LowPrecisionMatrix& W, int64_t n0, int64_t n1, const float* bias,
                    float* y, bool alone) {
    const Int8Avx2Kernel kernel{a.int8.data(), a.scales.data(), a.chunks * 64, a.scale_stride(), a.K,
                                W.int8(), W.scales(), W.blocks_per_row(), bias, y, W.rows()};
    if (a.M == 1) {
        RowPairs(n0, n1, true).visit([&](const int64_t (&pair)[2]) { kernel.run<1, 2>(pair); },
                                     [&](int64_t n) { kernel.run<1, 1>({n}); });
        return;
    }
    const RowOrder order(n0, n1, alone);
    const int64_t rows = order.size();
    int64_t m = 0;  // 4 rows of x at a time: each weight loaded once per 4
    for (; m + 4 <= a.M; m += 4)
        for (int64_t i = 0; i < rows; ++i) kernel.rows_from(m).run<4, 1>({order[i]});
    const Int8Avx2Kernel rest = kernel.rows_from(m);
    switch (a.M - m) {
        case 3: for (int64_t i = 0; i < rows; ++i) rest.run<3, 1>({order[i]}); break;
        case 2: for (int64_t i = 0; i < rows; ++i) rest.run<2, 1>({order[i]}); break;
        case 1: for (int64_t i = 0; i < rows; ++i) rest.run<1, 1>({order[i]}); break;
        default: break;
    }
}

// Per 16 columns: x's 8 even columns, then its 8 odd ones (the order the kernel widens the
// weights in); zeros past K.
void prepare_bf16_avx2(int64_t M, int64_t K, const float* x, DotActivations& a) {
    const int64_t width = a.chunks * 32;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < width; k += kPairs) {
            float* p = a.f32_pairs.data() + m * width + k;
            for (int64_t i = 0; i < kPairs / 2; ++i) {
                const int64_t even = k + 2 * i, odd = even + 1;
                p[i] = even < K ? x[m * K + even] : 0.f;
                p[kPairs / 2 + i] = odd < K ? x[m * K + odd] : 0.f;
            }
        }
}

// Each row of W once per call, every row of x against it while it is in L1 (2 at a time).
//
// Decoding one sequence (one row of x), W is read as two streams — the first and the second
// half of the rows side by side — where one row after the other was one stream in flight,
// which kept this kernel below what one core reads with more (the bench's probe then, on 4 KiB
// pages: ~17 GB/s as one stream, ~23 as eight). `attend generate --dtype bf16 -n 128` of GPT-2
// small, one stream against two halves against four quarters, alternated three times: 1 thread
// 65–69 → 83–89 (four: 86–94) tok/s, 2 threads 80–99 → 97–123 (four: 91–98). Two then, since
// four rows of 4 accumulators needed all 16 AVX2 registers; four since the thirty-fourth round,
// with 2 accumulators a row (RowQuads, ops/gemv_row_order.hpp, has the figures; the f32 kernel
// reads the same quads, the int8 kernel pairs).
void bf16_rows_avx2(const DotActivations& a, const LowPrecisionMatrix& W, int64_t n0, int64_t n1, const float* bias,
                    float* y) {
    const Bf16Avx2Kernel kernel{a.f32_pairs.data(), a.chunks * 32, a.K, W.bf16(), bias, y, W.rows()};
    if (a.M == 1) {
        RowQuads(n0, n1, true).visit([&](const int64_t (&quad)[4]) { kernel.run<1, 4>(quad); },
                                     [&](int64_t n) { kernel.run<1, 1>({n}); });
        return;
    }
    for (int64_t n = n0; n < n1; ++n) {
        int64_t m = 0;
        for (; m + 2 <= a.M; m += 2) kernel.rows_from(m).run<2, 1>({n});
        if (m < a.M) kernel.rows_from(m).run<1, 1>({n});
    }
}

#pragma GCC pop_options

}  // namespace attend
