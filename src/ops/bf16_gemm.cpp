// ops/bf16_gemm.cpp — y (M, N) = x (M, K) · Wᵀ + b with W in bf16, for many rows (a prompt),
// on the CPU's bf16 dot products (vdpbf16ps, AVX512-BF16).
//
// One vdpbf16ps does 32 multiply-adds (16 lanes × a pair of k) where an fp32 FMA does 16, so
// a prompt's products run up to twice as fast as the fp32 GEMM. x is rounded to bf16 once per
// call (~3 significant digits per input, the precision the weights already have); products of
// bf16 are exact in fp32 and the sums are fp32.
//
// The kernel is our own rather than oneDNN's bf16 matmul: oneDNN takes W (N, K) as stored and
// re-packs it into its blocked layout inside every call, per block of rows of x and in each
// thread, and it scaled poorly to 2 threads (prefill at 2 threads was slower in bf16 than in
// fp32). Here each operand is laid out once per call for the micro-kernel:
//
//   x tiles (round_x): 8 rows of x, pair-interleaved: tile[q · 8 + r] = (x[r, 2q], x[r, 2q + 1])
//     as bf16 in 32 bits, zero past K and past M — a tile's broadcasts are one contiguous stream.
//   micro-panel (pack): 48 rows of W, a block of ≤ kKC = 512 columns (K cut into equal blocks):
//     packed[q · 48 + c] = (W[n0 + c, k0 + 2q], W[n0 + c, k0 + 2q + 1]), zero past N and K.
//     ≤ 48 KiB, packed by the thread that uses it, for each block, and read by all tiles of x.
//   micro-tile: 8 rows of x × 48 columns = 24 vector accumulators; per pair of k, three 64-byte
//     loads of the panel, 8 broadcasts of x's pairs, 24 vdpbf16ps.
//
// Packing reads each weight once per call (a 16 × 16 transpose of 32-bit pairs in registers for
// even K), ~1% of the products' instructions at a 512-token prompt. Keeping a packed copy per
// matrix instead would double the bf16 weights in memory (decoding reads the (N, K) rows,
// ops/gemv_dot.cpp) to save that 1%. The threads split W's micro-panels, so each packs and reads
// only its share and no output is written by two threads. Each output is the same sequence of
// operations (k blocks in order, pairs in order, one accumulator) whatever M, the thread count
// or the split.
//
// Without AVX512-BF16 this returns false and the caller widens W instead (ops/matmul.cpp).
//
// bf16_sgemm (ops/gemm.hpp) is the same kernel for bf16 mixed-precision training, where both
// operands are fp32 (master weights, activations, gradients) and are rounded to bf16 as they
// are laid out: A (M, K) as stored or transposed ((K, M) stored) into the x tiles, B as (N, K)
// (y = x · Wᵀ) or (K, N) (dx = dy · W, dW = dyᵀ · x) into the micro-panels. The rounding is
// the only extra work (M·K + N·K conversions against M·N·K products); the sums stay fp32.
#include <omp.h>

#include <immintrin.h>

#include <vector>

#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "ops/gemm.hpp"
#include "ops/gemv.hpp"
#include "ops/gemv_dot.hpp"

namespace attend {

namespace {

constexpr int64_t kMR = 8;    // rows of x per micro-tile
constexpr int64_t kNR = 48;   // rows of W (columns of y) per micro-panel: 3 vectors of 16
constexpr int64_t kKC = 512;  // columns of W per block at most (even); K is cut into equal blocks
constexpr int64_t kScaleBlock = LowPrecisionMatrix::kBlock;  // int8: columns per scale (32)
static_assert(kKC % kScaleBlock == 0 && kScaleBlock % 2 == 0, "a block of columns holds whole scale blocks");

// What one call needs, made on the calling thread and read by the workers.
struct Bf16Problem {
    int64_t M, N, K, Kp;  // Kp: K rounded up to even (a pair per 32-bit lane)
    const uint32_t* x;    // x rounded, in tiles of 8 rows: [M / 8][Kp / 2][8] pairs (see round_x)
    const uint16_t* w;    // bf16 W (N, K) as stored, or null
    const int8_t* q;      // int8 W (N, K) as stored, or null
    const float* scales;  // int8: (N, blocks) per 32 columns
    int64_t blocks;
    const float* bias;    // (N) or null
    float* y;             // (M, N), rows ldc apart
    const float* b = nullptr;  // fp32 B, or null: (N, K) rows ldb apart, or (K, N) when b_kn
    int64_t ldb = 0;
    bool b_kn = false;
    int64_t ldc = 0;           // set from N when 0
    bool accumulate = false;   // y += product (+ bias) instead of y = product (+ bias)
};

void round_x(int64_t M, int64_t K, int64_t Kp, const float* x, int64_t lda, uint32_t* out);
void round_xt(int64_t M, int64_t K, int64_t Kp, const float* x, int64_t lda, uint32_t* out);
void panel(const Bf16Problem& p, int64_t j, uint32_t* packed, float* panel_scales);

}  // namespace

bool bf16_gemm(int64_t M, const float* x, const LowPrecisionMatrix& W, const float* bias, float* y) {
    if (!cpu_has_bf16_dot() || (W.type() != WeightType::bf16 && W.type() != WeightType::int8)) return false;
    const int64_t N = W.rows(), K = W.cols(), Kp = K + (K & 1);
    if (M <= 0 || N <= 0) return true;
    // Reused across calls: a prompt's products would otherwise fault in fresh pages each time.
    thread_local std::vector<uint32_t> reused;
    std::vector<uint32_t>& x_tiles = reused;
    x_tiles.resize(size_t((M + kMR - 1) / kMR * kMR * Kp / 2));
    round_x(M, K, Kp, x, K, x_tiles.data());
    const bool int8 = W.type() == WeightType::int8;
    Bf16Problem p{M,    N, K, Kp, x_tiles.data(), int8 ? nullptr : W.bf16(), int8 ? W.int8() : nullptr,
                  int8 ? W.scales() : nullptr, W.blocks_per_row(), bias, y};
    p.ldc = N;
    const int64_t panels = (N + kNR - 1) / kNR;
#pragma omp parallel if (worth_threading(M * N * K / 8, panels))
    {
        alignas(64) uint32_t packed[kKC / 2 * kNR];  // 48 KiB at most, this thread's micro-panel
        alignas(64) float panel_scales[kKC / kScaleBlock * kNR];  // int8: its scales, [block][48]
        const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
        for (int64_t j = panels * t / threads; j < panels * (t + 1) / threads; ++j) panel(p, j, packed, panel_scales);
    }
    return true;
}

bool bf16_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, const float* bias, bool accumulate, float* C, int64_t ldc) {
    if (!cpu_has_bf16_dot()) return false;
    if (M <= 0 || N <= 0) return true;
    const int64_t Kp = K + (K & 1);
    thread_local std::vector<uint32_t> reused;  // as bf16_gemm's: no fresh pages per call
    reused.resize(size_t((M + kMR - 1) / kMR * kMR * Kp / 2));
    if (trans_a) round_xt(M, K, Kp, A, lda, reused.data());
    else round_x(M, K, Kp, A, lda, reused.data());
    Bf16Problem p{M, N, K, Kp, reused.data(), nullptr, nullptr, nullptr, 0, bias, C};
    p.b = B, p.ldb = ldb, p.b_kn = !trans_b, p.ldc = ldc, p.accumulate = accumulate;
    const int64_t panels = (N + kNR - 1) / kNR;
    if (Kp == 0) {  // no products: y = bias (+ y)
        for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n)
                C[m * ldc + n] = (accumulate ? C[m * ldc + n] : 0.f) + (bias ? bias[n] : 0.f);
        return true;
    }
#pragma omp parallel if (worth_threading(M * N * K / 8, panels))
    {
        alignas(64) uint32_t packed[kKC / 2 * kNR];
        const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
        for (int64_t j = panels * t / threads; j < panels * (t + 1) / threads; ++j) panel(p, j, packed, nullptr);
    }
    return true;
}

// ---- kernels: AVX-512 from here on; no standard-library calls below this line ----
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")
// GCC 12 warns that the intrinsics' own _mm512_undefined_* placeholders "may be used
// uninitialized" once they are inlined under a target pragma: a false report inside its headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

inline __mmask16 first_lanes(int64_t n) {
    return n >= 16 ? __mmask16(0xffff) : n > 0 ? __mmask16((1u << n) - 1) : __mmask16(0);
}

// x (M, K) → bf16, rounded to nearest even (vcvtneps2bf16), zero past K and past M, laid out
// as the micro-tile reads it: tile t holds rows [8t, 8t + 8), pair q of row r at
// out[(t · Kp/2 + q) · 8 + r] — a tile's broadcasts walk one contiguous stream, 32 bytes a pair.
// Per 8 rows and 8 pairs: 8 conversions of 16 floats, then an 8 × 8 transpose of the pairs.
void round_x(int64_t M, int64_t K, int64_t Kp, const float* x, int64_t lda, uint32_t* out) {
    const int64_t tiles = (M + kMR - 1) / kMR, pairs = Kp / 2;
#pragma omp parallel for schedule(static) if (worth_threading(M * K, tiles))
    for (int64_t t = 0; t < tiles; ++t)
        for (int64_t q0 = 0; q0 < pairs; q0 += 8) {
            const __mmask16 keep = first_lanes(K - 2 * q0);
            __m256i v[8], u[8];
            for (int r = 0; r < 8; ++r) {
                const int64_t m = t * kMR + r;
                v[r] = m < M ? (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(keep, x + m * lda + 2 * q0))
                             : _mm256_setzero_si256();
            }
            for (int i = 0; i < 4; ++i) {
                u[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);      // pairs 0, 1 | 4, 5
                u[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);  // 2, 3 | 6, 7
            }
            for (int h = 0; h < 2; ++h) {  // rows 4h .. 4h + 3
                const __m256i a = u[4 * h], b = u[4 * h + 1], c = u[4 * h + 2], d = u[4 * h + 3];
                v[4 * h + 0] = _mm256_unpacklo_epi64(a, c);  // pair 0 | 4 of the 4 rows
                v[4 * h + 1] = _mm256_unpackhi_epi64(a, c);  // 1 | 5
                v[4 * h + 2] = _mm256_unpacklo_epi64(b, d);  // 2 | 6
                v[4 * h + 3] = _mm256_unpackhi_epi64(b, d);  // 3 | 7
            }
            uint32_t* tile = out + (t * pairs + q0) * kMR;
            for (int e = 0; e < 4; ++e) {
                if (q0 + e < pairs)
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + e * kMR), _mm256_permute2x128_si256(v[e], v[4 + e], 0x20));
                if (q0 + e + 4 < pairs)
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + (e + 4) * kMR),
                                        _mm256_permute2x128_si256(v[e], v[4 + e], 0x31));
            }
        }
}

// The same tiles from A stored transposed, (K, M) rows lda apart (A[m, k] = x[k · lda + m]):
// pair q of 8 rows is rows 2q and 2q + 1 of the stored matrix, 8 contiguous values each,
// rounded and interleaved by 16-bit lanes.
void round_xt(int64_t M, int64_t K, int64_t Kp, const float* x, int64_t lda, uint32_t* out) {
    const int64_t tiles = (M + kMR - 1) / kMR, pairs = Kp / 2;
#pragma omp parallel for schedule(static) if (worth_threading(M * K, tiles))
    for (int64_t t = 0; t < tiles; ++t) {
        const int64_t m0 = t * kMR, rows = M - m0;
        const __mmask8 keep = rows >= 8 ? __mmask8(0xff) : __mmask8((1u << rows) - 1);
        uint32_t* tile = out + t * pairs * kMR;
        for (int64_t q = 0; q < pairs; ++q) {
            const int64_t k = 2 * q;
            const __m256 lo = _mm256_maskz_loadu_ps(keep, x + k * lda + m0);
            const __m256 hi = k + 1 < K ? _mm256_maskz_loadu_ps(keep, x + (k + 1) * lda + m0) : _mm256_setzero_ps();
            const __m128i a = (__m128i)_mm256_cvtneps_pbh(lo), b = (__m128i)_mm256_cvtneps_pbh(hi);
            const __m256i v = _mm256_set_m128i(_mm_unpackhi_epi16(a, b), _mm_unpacklo_epi16(a, b));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + q * kMR), v);
        }
    }
}

// fp32 B as (K, N) rows ldb apart into the micro-panel: packed[q · 48 + c] = (B[k0 + 2q, n0 + c],
// B[k0 + 2q + 1, n0 + c]) rounded — two rows' 16 values a vector, widened to 32-bit lanes.
void pack_kn(const Bf16Problem& p, int64_t n0, int64_t k0, int64_t kc, uint32_t* packed) {
    for (int64_t q = 0; q < kc / 2; ++q) {
        const int64_t k = k0 + 2 * q;
        for (int v = 0; v < 3; ++v) {
            const int64_t n = n0 + 16 * v;
            const __mmask16 keep = first_lanes(p.N - n);
            const __m512 lo = k < p.K ? _mm512_maskz_loadu_ps(keep, p.b + k * p.ldb + n) : _mm512_setzero_ps();
            const __m512 hi = k + 1 < p.K ? _mm512_maskz_loadu_ps(keep, p.b + (k + 1) * p.ldb + n) : _mm512_setzero_ps();
            const __m512i a = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
            const __m512i b = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
            _mm512_store_si512(packed + q * kNR + 16 * v, _mm512_or_si512(a, _mm512_slli_epi32(b, 16)));
        }
    }
}

// Rows [n0, n0 + 48) ∩ [0, N) of W, columns [k0, k0 + kc) (kc even), into the micro-panel
// layout above. Even K: a 16 × 16 transpose of 32-bit pairs per 16 rows and 16 pairs.
// W[n, k] as bf16 bits; an int8 value is exact in bf16 (≤ 8 significant bits).
inline uint32_t bf16_bits(const Bf16Problem& p, int64_t n, int64_t k) {
    if (p.w) return p.w[n * p.K + k];
    const float v = float(p.q[n * p.K + k]);
    uint32_t bits;
    __builtin_memcpy(&bits, &v, sizeof bits);
    return bits >> 16;
}

void pack(const Bf16Problem& p, int64_t n0, int64_t k0, int64_t kc, uint32_t* packed, float* panel_scales) {
    const int64_t pairs = kc / 2;
    if (p.q)  // int8: the scales of the block's 32-column groups, [group][48]
        for (int64_t g = 0; g < (kc + kScaleBlock - 1) / kScaleBlock; ++g)
            for (int64_t c = 0; c < kNR; ++c)
                panel_scales[g * kNR + c] = n0 + c < p.N ? p.scales[(n0 + c) * p.blocks + k0 / kScaleBlock + g] : 0.f;
    if (p.b && p.b_kn) return pack_kn(p, n0, k0, kc, packed);
    if (p.K % 2 != 0 && !p.b) {  // odd K: a row's last pair would straddle two rows; pair by pair
        for (int64_t q = 0; q < pairs; ++q)
            for (int64_t c = 0; c < kNR; ++c) {
                const int64_t n = n0 + c, k = k0 + 2 * q;
                const uint32_t lo = n < p.N && k < p.K ? bf16_bits(p, n, k) : 0;
                const uint32_t hi = n < p.N && k + 1 < p.K ? bf16_bits(p, n, k + 1) : 0;
                packed[q * kNR + c] = lo | hi << 16;
            }
        return;
    }
    for (int64_t c0 = 0; c0 < kNR; c0 += 16)
        for (int64_t q0 = 0; q0 < pairs; q0 += 16) {
            const __mmask16 keep = first_lanes(pairs - q0);
            __m512i r[16];
            for (int i = 0; i < 16; ++i) {
                const int64_t n = n0 + c0 + i;
                if (n >= p.N) {
                    r[i] = _mm512_setzero_si512();
                } else if (p.b) {  // fp32 (N, K): 32 values rounded, in column order (masked past K)
                    const int64_t k = k0 + 2 * q0, left = p.K - k;
                    const __mmask16 lo_keep = first_lanes(left), hi_keep = first_lanes(left - 16);
                    const float* row = p.b + n * p.ldb + k;
                    r[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi_keep, row + 16),
                                                        _mm512_maskz_loadu_ps(lo_keep, row));
                } else if (p.w) {
                    r[i] = _mm512_maskz_loadu_epi32(keep, p.w + n * p.K + k0 + 2 * q0);
                } else {  // int8: 32 values widened to fp32, then to bf16 (exact), in column order
                    const int64_t cols = kc - 2 * q0 < 32 ? kc - 2 * q0 : 32;
                    const __m256i b = _mm256_maskz_loadu_epi8(cols >= 32 ? ~__mmask32(0) : (__mmask32(1) << cols) - 1,
                                                              p.q + n * p.K + k0 + 2 * q0);
                    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(b)));
                    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(b, 1)));
                    r[i] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                }
            }
            // Transpose: t pairs rows, u quads, then 128-bit lanes across 4 and 16 rows.
            __m512i t[16], u[16];
            for (int i = 0; i < 8; ++i) {
                t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
            }
            for (int i = 0; i < 4; ++i) {  // rows 4i .. 4i + 3
                u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);      // pairs 0, 4, 8, 12
                u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);      // 1, 5, 9, 13
                u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);  // 2, 6, 10, 14
                u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);  // 3, 7, 11, 15
            }
            for (int s = 0; s < 4; ++s) {  // u[s + 4i]: pairs s + 4L (128-bit lane L) of rows 4i .. 4i + 3
                const __m512i a0 = _mm512_shuffle_i32x4(u[s], u[s + 4], 0x88);       // s, s+8 of rows 0–7
                const __m512i a1 = _mm512_shuffle_i32x4(u[s], u[s + 4], 0xdd);       // s+4, s+12
                const __m512i b0 = _mm512_shuffle_i32x4(u[s + 8], u[s + 12], 0x88);  // rows 8–15
                const __m512i b1 = _mm512_shuffle_i32x4(u[s + 8], u[s + 12], 0xdd);
                const __m512i col[4] = {_mm512_shuffle_i32x4(a0, b0, 0x88), _mm512_shuffle_i32x4(a1, b1, 0x88),
                                        _mm512_shuffle_i32x4(a0, b0, 0xdd), _mm512_shuffle_i32x4(a1, b1, 0xdd)};
                for (int e = 0; e < 4; ++e) {  // pair s + 4e of the 16
                    const int64_t q = q0 + s + 4 * e;
                    if (q < pairs) _mm512_store_si512(packed + q * kNR + c0, col[e]);
                }
            }
        }
}

// y[m0 .. m0 + MR, n0 .. n0 + 48) (+)= acc. first: the block starts the sum (y = acc + bias).
template <int MR>
inline void store_tile(const Bf16Problem& p, int64_t m0, int64_t n0, const __m512 (&acc)[MR][3], bool first) {
    for (int v = 0; v < 3; ++v) {
        const int64_t n = n0 + 16 * v;
        const __mmask16 keep = first_lanes(p.N - n);
        if (!keep) break;
        const __m512 b = first && p.bias ? _mm512_maskz_loadu_ps(keep, p.bias + n) : _mm512_setzero_ps();
        for (int m = 0; m < MR; ++m) {
            float* out = p.y + (m0 + m) * p.ldc + n;
            const __m512 base = first && !p.accumulate ? b
                                : first                ? _mm512_add_ps(b, _mm512_maskz_loadu_ps(keep, out))
                                                       : _mm512_maskz_loadu_ps(keep, out);
            _mm512_mask_storeu_ps(out, keep, _mm512_add_ps(acc[m][v], base));
        }
    }
}

// x's rows m0 .. m0 + MR (within one 8-row tile) in the block starting at column k0.
inline const uint32_t* x_at(const Bf16Problem& p, int64_t m0, int64_t k0) {
    return p.x + (m0 / kMR * p.Kp / 2 + k0 / 2) * kMR + m0 % kMR;
}

// acc[m][v] += x's row m · the packed micro-panel's 16 columns v, over pairs [q0, q1): the
// one product loop of both tiles below.
template <int MR>
[[gnu::always_inline]] inline void dot_pairs(__m512 (&acc)[MR][3], const uint32_t* x, const uint32_t* packed,
                                             int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
        const __m512bh w0 = (__m512bh)_mm512_load_si512(packed + q * kNR);
        const __m512bh w1 = (__m512bh)_mm512_load_si512(packed + q * kNR + 16);
        const __m512bh w2 = (__m512bh)_mm512_load_si512(packed + q * kNR + 32);
        for (int m = 0; m < MR; ++m) {
            const __m512bh xv = (__m512bh)_mm512_set1_epi32(int32_t(x[q * kMR + m]));
            acc[m][0] = _mm512_dpbf16_ps(acc[m][0], xv, w0);
            acc[m][1] = _mm512_dpbf16_ps(acc[m][1], xv, w1);
            acc[m][2] = _mm512_dpbf16_ps(acc[m][2], xv, w2);
        }
    }
}

// y[m0 .. m0 + MR, n0 .. n0 + 48) (+)= x's rows · the packed micro-panel over `pairs` pairs.
template <int MR>
void tile(const Bf16Problem& p, int64_t m0, int64_t n0, int64_t k0, int64_t pairs, const uint32_t* packed,
          bool first) {
    __m512 acc[MR][3];
    for (int m = 0; m < MR; ++m)
        for (int v = 0; v < 3; ++v) acc[m][v] = _mm512_setzero_ps();
    dot_pairs<MR>(acc, x_at(p, m0, k0), packed, 0, pairs);
    store_tile<MR>(p, m0, n0, acc, first);
}

// The same for int8 weights: each 32-column group's sum (in `group`) is scaled by its weights'
// scales, acc += group · s[n], so 2 × 12 accumulators: at most 4 rows of x per tile.
template <int MR>
void tile_scaled(const Bf16Problem& p, int64_t m0, int64_t n0, int64_t k0, int64_t pairs, const uint32_t* packed,
                 const float* panel_scales, bool first) {
    static_assert(MR <= 4, "24 accumulators");
    __m512 acc[MR][3];
    for (int m = 0; m < MR; ++m)
        for (int v = 0; v < 3; ++v) acc[m][v] = _mm512_setzero_ps();
    const uint32_t* x = x_at(p, m0, k0);
    for (int64_t q0 = 0, g = 0; q0 < pairs; q0 += kScaleBlock / 2, ++g) {
        __m512 group[MR][3];
        for (int m = 0; m < MR; ++m)
            for (int v = 0; v < 3; ++v) group[m][v] = _mm512_setzero_ps();
        const int64_t q1 = q0 + kScaleBlock / 2 < pairs ? q0 + kScaleBlock / 2 : pairs;
        dot_pairs<MR>(group, x, packed, q0, q1);
        for (int v = 0; v < 3; ++v) {
            const __m512 s = _mm512_load_ps(panel_scales + g * kNR + 16 * v);
            for (int m = 0; m < MR; ++m) acc[m][v] = _mm512_fmadd_ps(group[m][v], s, acc[m][v]);
        }
    }
    store_tile<MR>(p, m0, n0, acc, first);
}

// Micro-panel j: all rows of x against W's rows [48j, 48j + 48), block of columns by block.
void panel(const Bf16Problem& p, int64_t j, uint32_t* packed, float* panel_scales) {
    const int64_t n0 = j * kNR;
    // Equal blocks of ≤ kKC columns: of pairs (bf16), of whole 32-column scale groups (int8).
    const int64_t unit = p.q ? kScaleBlock : 2, units = (p.Kp + unit - 1) / unit;
    const int64_t blocks = (p.Kp + kKC - 1) / kKC, block = (units + blocks - 1) / blocks * unit;
    for (int64_t k0 = 0; k0 < p.Kp; k0 += block) {
        const int64_t kc = p.Kp - k0 < block ? p.Kp - k0 : block, pairs = kc / 2;
        pack(p, n0, k0, kc, packed, panel_scales);
        if (p.q) {
            int64_t m0 = 0;
            for (; m0 + 4 <= p.M; m0 += 4) tile_scaled<4>(p, m0, n0, k0, pairs, packed, panel_scales, k0 == 0);
            switch (p.M - m0) {
                case 3: tile_scaled<3>(p, m0, n0, k0, pairs, packed, panel_scales, k0 == 0); break;
                case 2: tile_scaled<2>(p, m0, n0, k0, pairs, packed, panel_scales, k0 == 0); break;
                case 1: tile_scaled<1>(p, m0, n0, k0, pairs, packed, panel_scales, k0 == 0); break;
                default: break;
            }
            continue;
        }
        int64_t m0 = 0;
        for (; m0 + kMR <= p.M; m0 += kMR) tile<kMR>(p, m0, n0, k0, pairs, packed, k0 == 0);
        switch (p.M - m0) {
            case 7: tile<7>(p, m0, n0, k0, pairs, packed, k0 == 0); break;
            case 6: tile<6>(p, m0, n0, k0, pairs, packed, k0 == 0); break;
            case 5: tile<5>(p, m0, n0, k0, pairs, packed, k0 == 0); break;
            case 4: tile<4>(p, m0, n0, k0, pairs, packed, k0 == 0); break;
            case 3: tile<3>(p, m0, n0, k0, pairs, packed, k0 == 0); break;
            case 2: tile<2>(p, m0, n0, k0, pairs, packed, k0 == 0); break;
            case 1: tile<1>(p, m0, n0, k0, pairs, packed, k0 == 0); break;
            default: break;
        }
    }
}

}  // namespace
#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace attend
