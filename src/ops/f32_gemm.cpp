// ops/f32_gemm.cpp — C (M, N) = alpha · op(A) · op(B) + beta · C in fp32 on AVX-512: our own
// kernel, with the blocking of ops/bf16_gemm.cpp (one packing concept for both).
//
// Measured against oneDNN's sgemm by thread CPU time (bench/f32_gemm_cpu): 6–11% faster for a
// prompt through wide layers (x·Wᵀ, N ≥ 1000, K ≥ 512), 2–7% slower at 768 × 768, 0–26% slower
// at the training step's shapes (K = 384; dY·W, dYᵀ·X) — oneDNN runs the same 8 × 48 tile and
// the same k blocks (its results equal ours bit for bit except for dYᵀ·X), so the gap is in its memory
// scheduling. ops/gemm.cpp uses this kernel only where it won. Both operands are packed into
// the exact streams the micro-kernel reads:
//
//   A tiles (pack_a): 8 rows of op(A) × a block of kc ≤ kKC columns, k-major:
//     tile[k · 8 + r] = op(A)[m0 + r, k0 + k], zero past M — the tile's broadcasts are one stream.
//   B micro-panels (pack_b): 48 columns of op(B) × the same kc rows:
//     panel[k · 48 + c] = op(B)[k0 + k, n0 + c], zero past N — three 64-byte loads per k.
//   micro-tile: 8 rows × 48 columns = 24 zmm accumulators; per k three loads of the panel, 8
//     broadcasts of the tile, 24 FMAs.
//
// Loops (per thread, over its share of columns or rows): rows in chunks of kMC = 1024 × blocks
// of k (the chunk's A tiles packed once: ≤ 1.5 MiB) × columns in groups of kNC (8 micro-panels
// packed together: kc × 384 floats ≤ 576 KiB, in L2) × 8-row tiles (12 KiB, in L1 while it
// meets the group's panels) × micro-panels. Transposed operands are packed with 16 × 16
// register transposes. Packing still costs ~10% of the time at the model's shapes (measured by
// skipping it); packing A once per call instead of once per column group made no measurable
// difference, prefetching in the transposes ~3% (kPrefetchRows).
//
// Every output is the same sequence of operations whatever the thread count or split: k is
// cut into equal blocks of ≤ kKC by K alone, each block's sum is one accumulator in k order,
// then C = alpha · sum + beta · C for the first block and C += alpha · sum for the others.
#include "ops/f32_gemm.hpp"

#include <omp.h>

#include <immintrin.h>

#include <vector>

#include "attend/cpu_features.hpp"
#include "attend/parallel.hpp"
#include "ops/transpose16.hpp"

namespace attend {

namespace {

constexpr int64_t kMR = 8;    // rows of op(A) per micro-tile
constexpr int64_t kNR = 48;   // columns of op(B) per micro-panel: 3 vectors of 16
// Measured at the model's shapes (bench/f32_gemm_cpu): k blocks of 128–256 and packing 4 or 16
// micro-panels together were slower; 512 no better.
constexpr int64_t kKC = 384;       // k per block at most; K is cut into equal blocks
constexpr int64_t kNC = 8 * kNR;   // columns packed together
// Transposing packs read 16 rows at a time, each for only kc floats: too short a stream for the
// hardware prefetchers, so the loads wait on memory. Each load also prefetches the row 16 below
// (the next 16-row group's, read kc / 16 steps later): ~3% at the prefill shapes, measured.
constexpr int64_t kPrefetchRows = 16;
constexpr int64_t kMC = 128 * kMR;  // rows packed together: each thread packs A once per call up to 1024 rows

struct Problem {
    bool ta, tb;
    int64_t M, N, K;
    float alpha;
    const float* A;
    int64_t lda;
    const float* B;
    int64_t ldb;
    float beta;
    float* C;
    int64_t ldc;
};

// One thread's share: columns [n0, n1), rows [m0, m1); Bp, Ap its packing buffers (64-byte
// aligned, kNC · block and kMC · block floats, block the k per block).
void run_share(const Problem& p, int64_t block, int64_t n0, int64_t n1, int64_t m0, int64_t m1, float* Bp, float* Ap);

float* aligned64(std::vector<float>& store, int64_t floats) {
    store.resize(size_t(floats + 16));  // 16 floats of slack for the alignment
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t(63));
}

}  // namespace

bool f32_gemm_available() { return cpu_features().avx512; }

bool f32_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (!f32_gemm_available()) return false;
    if (M <= 0 || N <= 0) return true;
    if (K <= 0) {  // BLAS: C = beta · C (beta == 0 writes zeros, not 0 · NaN)
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
        return true;
    }
    const Problem p{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
    const int64_t panels = (N + kNR - 1) / kNR, tiles = (M + kMR - 1) / kMR;
    const int64_t blocks = (K + kKC - 1) / kKC, block = (K + blocks - 1) / blocks;
#pragma omp parallel if (worth_threading(M * N * K / 8, panels * tiles))
    {
        // Reused across calls: fresh buffers would fault in their pages on every product.
        thread_local std::vector<float> b_store, a_store;
        float* Bp = aligned64(b_store, kNC * block);
        float* Ap = aligned64(a_store, kMC * block);
        const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
        // Columns when there are enough micro-panels for every thread (each packs only its
        // share of B), rows of tiles otherwise.
        if (panels >= 2 * threads || panels >= tiles) {
            const int64_t j0 = panels * t / threads, j1 = panels * (t + 1) / threads;
            run_share(p, block, j0 * kNR, j1 * kNR < N ? j1 * kNR : N, 0, M, Bp, Ap);
        } else {
            const int64_t i0 = tiles * t / threads, i1 = tiles * (t + 1) / threads;
            run_share(p, block, 0, N, i0 * kMR, i1 * kMR < M ? i1 * kMR : M, Bp, Ap);
        }
    }
    return true;
}

// ---- kernels: AVX-512 from here on; no standard-library calls below this line (an inline
// library function instantiated here could be compiled for AVX-512 and shared) ----
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

inline __mmask16 first_lanes(int64_t n) {
    return n >= 16 ? __mmask16(0xffff) : n > 0 ? __mmask16((1u << n) - 1) : __mmask16(0);
}

// B (N, K): op(B)'s columns are B's rows, 48 of them into one micro-panel by 16 × 16 transposes.
void pack_b_transposed(const Problem& p, int64_t n0, int64_t k0, int64_t kc, float* panel) {
    for (int64_t c0 = 0; c0 < kNR; c0 += 16)
        for (int64_t q0 = 0; q0 < kc; q0 += 16) {
            const __mmask16 keep = first_lanes(kc - q0);
            __m512 r[16];
            for (int i = 0; i < 16; ++i) {
                const int64_t n = n0 + c0 + i;
                r[i] = n < p.N ? _mm512_maskz_loadu_ps(keep, p.B + n * p.ldb + k0 + q0) : _mm512_setzero_ps();
                if (n + kPrefetchRows < p.N) _mm_prefetch(reinterpret_cast<const char*>(p.B + (n + kPrefetchRows) * p.ldb + k0 + q0), _MM_HINT_T0);
            }
            transpose16(r);
            const int64_t cols = kc - q0 < 16 ? kc - q0 : 16;
            for (int j = 0; j < cols; ++j) _mm512_store_ps(panel + (q0 + j) * kNR + c0, r[j]);
        }
}

// op(B)[k0 .. k0 + kc, n0 .. n0 + 48 · panels) → micro-panel j at panels_out + j · kc · 48,
// panel[k · 48 + c], zero past N.
void pack_b(const Problem& p, int64_t n0, int64_t panels, int64_t k0, int64_t kc, float* panels_out) {
    if (!p.tb) {  // B (K, N): rows of op(B) are rows of B, walked in order across the panels
        for (int64_t k = 0; k < kc; ++k) {
            const float* row = p.B + (k0 + k) * p.ldb;
            for (int64_t j = 0; j < panels; ++j)
                for (int v = 0; v < 3; ++v) {
                    const int64_t n = n0 + j * kNR + 16 * v;
                    _mm512_store_ps(panels_out + (j * kc + k) * kNR + 16 * v, _mm512_maskz_loadu_ps(first_lanes(p.N - n), row + n));
                }
        }
        return;
    }
    for (int64_t j = 0; j < panels; ++j) pack_b_transposed(p, n0 + j * kNR, k0, kc, panels_out + j * kc * kNR);
}

// op(A)[m0 .. m0 + mc, k0 .. k0 + kc) → tiles of 8 rows, tile[k · 8 + r], zero past mc.
void pack_a(const Problem& p, int64_t m0, int64_t mc, int64_t k0, int64_t kc, float* tiles) {
    const int64_t count = (mc + kMR - 1) / kMR;
    if (p.ta) {  // A (K, M): row k of A holds op(A)'s column k; walk A's rows in order (each
        // row of A is another page when M is large: one pass per row, not one per tile)
        for (int64_t k = 0; k < kc; ++k) {
            const float* row = p.A + (k0 + k) * p.lda + m0;
            for (int64_t t = 0; t < count; ++t) {
                const int64_t rows = mc - t * kMR < kMR ? mc - t * kMR : kMR;
                _mm256_store_ps(tiles + (t * kc + k) * kMR, _mm256_maskz_loadu_ps(__mmask8((1u << rows) - 1), row + t * kMR));
            }
        }
        return;
    }
    // A (M, K): two tiles at a time through a 16 × 16 transpose; column j's lanes 0–7 go to
    // the first tile, 8–15 to the second.
    for (int64_t t = 0; t < count; t += 2) {
        for (int64_t q0 = 0; q0 < kc; q0 += 16) {
            const __mmask16 keep = first_lanes(kc - q0);
            __m512 r[16];
            for (int i = 0; i < 16; ++i) {
                const int64_t m = t * kMR + i;
                r[i] = m < mc ? _mm512_maskz_loadu_ps(keep, p.A + (m0 + m) * p.lda + k0 + q0) : _mm512_setzero_ps();
                if (m + kPrefetchRows < mc) _mm_prefetch(reinterpret_cast<const char*>(p.A + (m0 + m + kPrefetchRows) * p.lda + k0 + q0), _MM_HINT_T0);
            }
            transpose16(r);
            const int64_t cols = kc - q0 < 16 ? kc - q0 : 16;
            float* lo = tiles + t * kc * kMR;
            for (int j = 0; j < cols; ++j) _mm256_store_ps(lo + (q0 + j) * kMR, _mm512_castps512_ps256(r[j]));
            if (t + 1 < count) {
                float* hi = lo + kc * kMR;
                for (int j = 0; j < cols; ++j)
                    _mm256_store_ps(hi + (q0 + j) * kMR, _mm512_extractf32x8_ps(r[j], 1));
            }
        }
    }
}

// C[m, 0 .. cols) = alpha · acc[m] + (first ? beta · C : C), one rounding after beta · C.
template <int MR>
inline void store_acc(const __m512 (&acc)[MR][3], float* c, int64_t ldc, int64_t cols, float alpha, float beta, bool first) {
    const __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
    for (int v = 0; v < 3; ++v) {
        const __mmask16 keep = first_lanes(cols - 16 * v);
        if (!keep) break;
        for (int m = 0; m < MR; ++m) {
            float* out = c + m * ldc + 16 * v;
            __m512 base;
            if (!first) base = _mm512_maskz_loadu_ps(keep, out);
            else if (beta == 0.f) base = _mm512_setzero_ps();
            else base = _mm512_mul_ps(be, _mm512_maskz_loadu_ps(keep, out));
            _mm512_mask_storeu_ps(out, keep, _mm512_fmadd_ps(al, acc[m][v], base));
        }
    }
}

// C[0 .. MR, 0 .. cols) (ldc) = alpha · tile · panel + (first ? beta · C : C), over kc.
template <int MR>
void micro(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc, int64_t cols,
           float alpha, float beta, bool first) {
    __m512 acc[MR][3];
    for (int m = 0; m < MR; ++m)
        for (int v = 0; v < 3; ++v) acc[m][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
        const __m512 b0 = _mm512_load_ps(b + k * kNR);
        const __m512 b1 = _mm512_load_ps(b + k * kNR + 16);
        const __m512 b2 = _mm512_load_ps(b + k * kNR + 32);
        for (int m = 0; m < MR; ++m) {
            const __m512 av = _mm512_set1_ps(a[k * kMR + m]);
            acc[m][0] = _mm512_fmadd_ps(av, b0, acc[m][0]);
            acc[m][1] = _mm512_fmadd_ps(av, b1, acc[m][1]);
            acc[m][2] = _mm512_fmadd_ps(av, b2, acc[m][2]);
        }
    }
    store_acc<MR>(acc, c, ldc, cols, alpha, beta, first);
}

// The full 8-row tile, as micro<8> but with the broadcasts embedded in the FMAs (vfmadd231ps
// m32{1to16}, written in asm: GCC hoists a broadcast used three times into a register) — no
// broadcast instructions beside the FMAs; ~3% faster at the prefill shapes, measured.
// One row of the tile: x = a[row] broadcast from memory, c<row>v += x · b<v> for v = 0, 1, 2.
#define ATTEND_F32_FMA_ROW(row)                                                  \
    "vfmadd231ps " #row "*4(%[a])%{1to16%}, %[b0], %[c" #row "0]\n\t"          \
    "vfmadd231ps " #row "*4(%[a])%{1to16%}, %[b1], %[c" #row "1]\n\t"          \
    "vfmadd231ps " #row "*4(%[a])%{1to16%}, %[b2], %[c" #row "2]\n\t"
#define ATTEND_F32_ACC(row) [c##row##0] "+v"(c##row##0), [c##row##1] "+v"(c##row##1), [c##row##2] "+v"(c##row##2)

void micro8(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc, int64_t cols,
            float alpha, float beta, bool first) {
    const __m512 z = _mm512_setzero_ps();
    __m512 c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
    __m512 c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
    for (int64_t k = 0; k < kc; ++k) {
        const __m512 b0 = _mm512_load_ps(b + k * kNR);
        const __m512 b1 = _mm512_load_ps(b + k * kNR + 16);
        const __m512 b2 = _mm512_load_ps(b + k * kNR + 32);
        const float* ak = a + k * kMR;
        // Two statements: an asm takes at most 30 operands. The "m" operand tells the compiler
        // the 8 floats the asm reads (the packing's stores must come first).
        asm(ATTEND_F32_FMA_ROW(0) ATTEND_F32_FMA_ROW(1) ATTEND_F32_FMA_ROW(2) ATTEND_F32_FMA_ROW(3)
            : ATTEND_F32_ACC(0), ATTEND_F32_ACC(1), ATTEND_F32_ACC(2), ATTEND_F32_ACC(3)
            : [a] "r"(ak), "m"(*reinterpret_cast<const float(*)[kMR]>(ak)), [b0] "v"(b0), [b1] "v"(b1), [b2] "v"(b2));
        asm(ATTEND_F32_FMA_ROW(4) ATTEND_F32_FMA_ROW(5) ATTEND_F32_FMA_ROW(6) ATTEND_F32_FMA_ROW(7)
            : ATTEND_F32_ACC(4), ATTEND_F32_ACC(5), ATTEND_F32_ACC(6), ATTEND_F32_ACC(7)
            : [a] "r"(ak), "m"(*reinterpret_cast<const float(*)[kMR]>(ak)), [b0] "v"(b0), [b1] "v"(b1), [b2] "v"(b2));
    }
    const __m512 acc[8][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32},
                              {c40, c41, c42}, {c50, c51, c52}, {c60, c61, c62}, {c70, c71, c72}};
    store_acc<8>(acc, c, ldc, cols, alpha, beta, first);
}
#undef ATTEND_F32_FMA_ROW
#undef ATTEND_F32_ACC

void micro_rows(int64_t rows, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t cols,
                float alpha, float beta, bool first) {
    switch (rows) {
        case 8: micro8(kc, a, b, c, ldc, cols, alpha, beta, first); break;
        case 7: micro<7>(kc, a, b, c, ldc, cols, alpha, beta, first); break;
        case 6: micro<6>(kc, a, b, c, ldc, cols, alpha, beta, first); break;
        case 5: micro<5>(kc, a, b, c, ldc, cols, alpha, beta, first); break;
        case 4: micro<4>(kc, a, b, c, ldc, cols, alpha, beta, first); break;
        case 3: micro<3>(kc, a, b, c, ldc, cols, alpha, beta, first); break;
        case 2: micro<2>(kc, a, b, c, ldc, cols, alpha, beta, first); break;
        case 1: micro<1>(kc, a, b, c, ldc, cols, alpha, beta, first); break;
        default: break;
    }
}

void run_share(const Problem& p, int64_t block, int64_t n0, int64_t n1, int64_t m0, int64_t m1, float* Bp, float* Ap) {
    if (n0 >= n1 || m0 >= m1) return;
    for (int64_t ic = m0; ic < m1; ic += kMC) {
        const int64_t mc = m1 - ic < kMC ? m1 - ic : kMC;
        for (int64_t k0 = 0; k0 < p.K; k0 += block) {
            const int64_t kc = p.K - k0 < block ? p.K - k0 : block;
            pack_a(p, ic, mc, k0, kc, Ap);
            for (int64_t jc = n0; jc < n1; jc += kNC) {
                const int64_t nc = n1 - jc < kNC ? n1 - jc : kNC, panels = (nc + kNR - 1) / kNR;
                pack_b(p, jc, panels, k0, kc, Bp);
                for (int64_t t = 0; t * kMR < mc; ++t) {
                    const int64_t rows = mc - t * kMR < kMR ? mc - t * kMR : kMR;
                    for (int64_t j = 0; j < panels; ++j) {
                        const int64_t col = jc + j * kNR, cols = n1 - col < kNR ? n1 - col : kNR;
                        micro_rows(rows, kc, Ap + t * kc * kMR, Bp + j * kc * kNR, p.C + (ic + t * kMR) * p.ldc + col,
                                   p.ldc, cols, p.alpha, p.beta, k0 == 0);
                    }
                }
            }
        }
    }
}

}  // namespace
#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace attend
