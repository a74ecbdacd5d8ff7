// attention/fused.cpp — the fused path: tiled online softmax, forward and backward side by
// side. It never builds the (Tq × Tk) weights: a thread holds one (Bq × Bk) tile of scores
// and one of their gradients, and each query row keeps two numbers (m, 1/l) for backward.
//
// Forward (FlashAttention-2, Dao 2023; online softmax, Milakov & Gimelshein 2018). For a
// query tile Q_t (Bq rows) and each key tile K_j, V_j (Bk keys) it may see:
//   S  = scale · Q_t K_jᵀ + bias                         (Bq, Bk); −∞ where a key is masked
//   m' = max(m, rowmax S)                                 running max per row
//   P̃  = exp(S − m')                                      unnormalised weights, all ≤ 1
//   l' = e^(m − m') · l + rowsum P̃                        running denominator
//   O' = e^(m − m') · O + P̃ V_j                           rescale what was summed under the old max
// and at the end O = O / l. The pair (m, 1/l) is kept per row: P = exp(S − m) / l exactly as
// the forward had it (a log-sum-exp L = m + log l would lose ~1e-3 when m ≈ 1e4).
//
// Dropout on the weights (attention/dropout.hpp) multiplies P̃ by M/(1 − p) after l has summed
// it, and dP by the same factor in backward; M is recomputed from its index, never stored.
//
// Backward recomputes P tile by tile (no stored weights):
//   Δ_i = Σ_d dO_id O_id                 (= Σ_j P_ij dP_ij, the softmax Jacobian's row term)
//   dP  = dO V_jᵀ,  dS = P ⊙ (dP − Δ)
//   dV_j += Pᵀ dO,   dK_j += scale · dSᵀ Q_t,   dQ_t += scale · dS K_j
// Each output row must have one owner (no atomics). When there are enough (batch, kv head)
// pairs to keep every thread busy, one task per pair does all three products in one sweep
// (it owns dK, dV of its kv head and dQ of the query heads that read it: 5 tile products).
// Otherwise two passes: dQ by (batch, head, query tile), then dK, dV by (batch, kv head, key
// tile); each recomputes P and dS, 7 tile products, but every tile is a parallel task.
//
// Masks: causal / window / key padding give each row a contiguous key range (MaskPlan), so
// tiles outside the union of a query tile's ranges are skipped. Tiles sit on a fixed grid
// (multiples of Bq, Bk) in every pass, so backward recomputes bit-identical scores.
//
// A row that sees no key at all ends with l = 0: its output is 0 and it stores m = +∞,
// 1/l = 0, so backward's P = exp(S − ∞)·0 = 0 and it passes no gradient.
//
// Tile products go to attend::sgemm: oneDNN runs them single-threaded inside our parallel
// region at 230–250 GFLOP/s per core for 128×128×64 (measured on the Zen 5 dev machine; our
// first plain AVX-512 micro-kernel reached 65). Softmax rows use vectorised helpers below.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "attention/paths.hpp"
#include "core/parallel_loop.hpp"
#include "ops/gemm.hpp"
#include "ops/row_kernels.hpp"
#include "ops/simd.hpp"

namespace attend {

namespace {

// 128 × 128 tiles: two score tiles are 128 KiB, well inside a core's L2. Against 64 × 128 they
// were ~5% faster at T = 2048 (fewer, larger GEMMs); 128 × 256 was no better under a causal mask.
constexpr int64_t kTileQ = 128;  // query rows per tile
constexpr int64_t kTileK = 128;  // keys per tile
constexpr float kInf = std::numeric_limits<float>::infinity();

// ---- row kernels ---------------------------------------------------------------------------
// The max, exp, dot and scale passes are ops/row_kernels.hpp's (each on 16 floats as target
// clones, or 8 with FMA on AVX2 CPUs without AVX-512: on an AVX2-only EPYC, where exp_shifted's
// avx2 clone took 45% of the attention's time, that made the forward at T = 2048 2.5× faster,
// docs/performance.md, twelfth round). The softmax backward's row is attention's own:

// ds_j ← p_j · (ds_j − delta): the softmax backward for one row, dS = P ⊙ (dP − Δ).
// A weight of exactly 1 is a saturated row (one key takes everything): then Δ = dP_j and
// dS_j = 0 exactly, as the reference's rowsum(dP ⊙ P) gives; dP_j − Δ would instead leave
// the rounding difference of two summation orders of the same dot product (a row with a
// single visible key, e.g. Tk = 1, would get noise where its gradient is exactly 0).
template <class F>
ATTEND_VECTOR_INLINE void softmax_grad_row_v(const float* p, float* ds, int64_t n, float delta) {
    constexpr int64_t L = lanes_of<F>;
    int64_t j = 0;
    for (; j + L <= n; j += L) {
        const F pj = load_v<F>(p + j), g = pj * (load_v<F>(ds + j) - delta);
        store_v(ds + j, pj == 1.f ? splat_v<F>(0.f) : g);
    }
    for (; j < n; ++j) ds[j] = p[j] == 1.f ? 0.f : p[j] * (ds[j] - delta);
}

ATTEND_SIMD_CLONES void softmax_grad_row_16(const float* p, float* ds, int64_t n, float delta) {
    softmax_grad_row_v<f32x16>(p, ds, n, delta);
}
ATTEND_AVX2_FMA void softmax_grad_row_8(const float* p, float* ds, int64_t n, float delta) {
    softmax_grad_row_v<f32x8>(p, ds, n, delta);
}
void softmax_grad_row(const float* p, float* ds, int64_t n, float delta) {
    cpu_prefers_avx2_kernels() ? softmax_grad_row_8(p, ds, n, delta) : softmax_grad_row_16(p, ds, n, delta);
}

// ---- the problem and its tiles -------------------------------------------------------------

struct Problem {
    int64_t B, H, Hkv, Tq, Tk, D, Dv;
    float scale;
    const MaskPlan* mask;
    AttentionDropout dropout;
    const float* q;  // (B, H, Tq, D)
    const float* k;  // (B, Hkv, Tk, D)
    const float* v;  // (B, Hkv, Tk, Dv)
    // Or keys and values in bf16 (a KV cache's, Bf16KeysValues): k and v are then null, and
    // only the rows path (inference) reads these.
    const uint16_t* k16 = nullptr;  // (B, Hkv, Tk, D)
    const uint16_t* v16 = nullptr;  // (B, Hkv, Tk, Dv)

    int64_t group() const { return H / Hkv; }  // query heads per kv head
    int64_t q_tiles() const { return (Tq + kTileQ - 1) / kTileQ; }
    int64_t k_tiles() const { return (Tk + kTileK - 1) / kTileK; }
    int64_t q_row(int64_t b, int64_t h, int64_t i) const { return (b * H + h) * Tq + i; }       // row of (B·H·Tq)
    int64_t kv_row(int64_t b, int64_t h, int64_t j) const { return (b * Hkv + h / group()) * Tk + j; }
};

// A tile on the fixed grid: query rows [i0, i0 + rows), keys [k0, k0 + cols).
struct Tile {
    int64_t i0, rows, k0, cols;
};

Tile make_tile(const Problem& p, int64_t qt, int64_t kt) {
    const int64_t i0 = qt * kTileQ, k0 = kt * kTileK;
    return {i0, std::min(kTileQ, p.Tq - i0), k0, std::min(kTileK, p.Tk - k0)};
}

// For each (b, query tile): the key tiles [begin, end) that hold a key some row may see
// (the union of the rows' key ranges; empty when every row is masked out).
std::vector<KeyRange> visible_key_tiles(const Problem& p) {
    std::vector<KeyRange> spans(size_t(p.B * p.q_tiles()));
    for (int64_t b = 0; b < p.B; ++b)
        for (int64_t qt = 0; qt < p.q_tiles(); ++qt) {
            int64_t lo = p.Tk, hi = 0;
            for (int64_t i = qt * kTileQ; i < std::min(p.Tq, (qt + 1) * kTileQ); ++i) {
                const KeyRange r = p.mask->key_range(b, i);
                if (r.empty()) continue;
                lo = std::min(lo, r.begin);
                hi = std::max(hi, r.end);
            }
            spans[size_t(b * p.q_tiles() + qt)] =
                lo < hi ? KeyRange{lo / kTileK, (hi + kTileK - 1) / kTileK} : KeyRange{0, 0};
        }
    return spans;
}

// S (rows, cols) = scale · Q_t K_jᵀ + bias, and −∞ wherever row i may not see key j.
void tile_scores(const Problem& p, int64_t b, int64_t h, const Tile& t, float* S) {
    sgemm(false, true, t.rows, t.cols, p.D, p.scale, p.q + p.q_row(b, h, t.i0) * p.D, p.D,
          p.k + p.kv_row(b, h, t.k0) * p.D, p.D, 0.f, S, t.cols);
    for (int64_t r = 0; r < t.rows; ++r) {
        float* s = S + r * t.cols;
        const KeyRange range = p.mask->key_range(b, t.i0 + r);
        const int64_t begin = std::clamp<int64_t>(range.begin - t.k0, 0, t.cols);
        const int64_t end = std::max(begin, std::clamp<int64_t>(range.end - t.k0, 0, t.cols));
        std::fill(s, s + begin, -kInf);
        std::fill(s + end, s + t.cols, -kInf);
        if (p.mask->has_elementwise())
            for (int64_t j = begin; j < end; ++j) s[j] += p.mask->bias(b, h, t.i0 + r, t.k0 + j);
    }
}

// Multiply-adds of the score and value products, B·H·Tq·Tk·(D + Dv): what the threads share.
int64_t product_work(const Problem& p) { return p.B * p.H * p.Tq * p.Tk * (p.D + p.Dv); }

// The tiles' threads pay off past ~2²⁰ multiply-adds (a tile task is a GEMM call plus a
// softmax row pass each): parallel.hpp's rule with the work counted in units of 16.
bool worth_threads(const Problem& p, int64_t tasks = 2) { return worth_threading(product_work(p) / 16, tasks); }

// ---- forward -------------------------------------------------------------------------------

// out (B, H, Tq, Dv); stats (B, H, Tq, 2) holds (m, 1/l) per row for backward.
void forward(const Problem& p, float* out, float* stats) {
    const std::vector<KeyRange> spans = visible_key_tiles(p);
    const int64_t q_tiles = p.q_tiles(), tasks = p.B * p.H * q_tiles;
#pragma omp parallel if (worth_threads(p, tasks))
    {
        std::vector<float> S(size_t(kTileQ * kTileK));
        float m[kTileQ], l[kTileQ];
        // Largest tiles first (under a causal mask the last query tiles see the most keys).
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < tasks; ++task) {
            const int64_t qt = q_tiles - 1 - task % q_tiles, bh = task / q_tiles, b = bh / p.H, h = bh % p.H;
            const Tile first = make_tile(p, qt, 0);
            float* o = out + p.q_row(b, h, first.i0) * p.Dv;  // (rows, Dv), accumulated in place
            std::fill(o, o + first.rows * p.Dv, 0.f);
            std::fill(m, m + first.rows, -kInf);
            std::fill(l, l + first.rows, 0.f);
            const KeyRange span = spans[size_t(b * q_tiles + qt)];
            for (int64_t kt = span.begin; kt < span.end; ++kt) {
                const Tile t = make_tile(p, qt, kt);
                tile_scores(p, b, h, t, S.data());
                for (int64_t r = 0; r < t.rows; ++r) {
                    float* s = S.data() + r * t.cols;
                    const float m_new = std::max(m[r], max_of(s, t.cols));
                    if (m_new == -kInf) {  // nothing visible to this row yet: P̃ row = 0
                        std::fill(s, s + t.cols, 0.f);
                        continue;
                    }
                    const float alpha = std::exp(m[r] - m_new);  // 0 on the first visible tile
                    l[r] = alpha * l[r] + exp_shifted(s, s, t.cols, m_new, 1.f);  // l sums the weights before dropout
                    if (alpha != 1.f) scale_row(o + r * p.Dv, p.Dv, alpha);
                    m[r] = m_new;
                    if (p.dropout.active()) p.dropout.apply(s, t.cols, b, h, t.i0 + r, t.k0);
                }
                // O += P̃ V_j
                sgemm(false, false, t.rows, p.Dv, t.cols, 1.f, S.data(), t.cols, p.v + p.kv_row(b, h, t.k0) * p.Dv,
                      p.Dv, 1.f, o, p.Dv);
            }
            float* st = stats + p.q_row(b, h, first.i0) * 2;
            for (int64_t r = 0; r < first.rows; ++r) {
                const bool seen = l[r] > 0.f;  // false: every key masked → O = 0, no gradient
                const float inv_l = seen ? 1.f / l[r] : 0.f;
                if (seen) scale_row(o + r * p.Dv, p.Dv, inv_l);
                st[2 * r] = seen ? m[r] : kInf;
                st[2 * r + 1] = inv_l;
            }
        }
    }
}

// ---- few query rows: decoding --------------------------------------------------------------
// A decoding step has one query row per (sequence, head) against the whole context: there a
// 1 × 128 tile product is mostly a GEMM call's overhead, and one task per (sequence, head)
// may leave threads idle. So, for inference with few query rows, a task is the `group` query
// heads that share one kv head (each key and value is read once for all of them, as GQA
// intends), one query row, and one span of keys; dot products and the P·V sums run on
// registers. Spans of one row are merged afterwards (split-KV, as FlashDecoding): with
// partial (m_s, l_s, O_s) per span, m = max_s m_s and
//   l = Σ_s e^(m_s − m) l_s,   O = Σ_s e^(m_s − m) O_s / l.
// Scores are computed by different code than the tiles' GEMM, so they may differ in the last
// bit: this path is only for forward passes nothing differentiates (backward recomputes
// scores with the tiles and needs (m, 1/l) from the same arithmetic).

constexpr int64_t kRowChunk = 128;      // keys scored at a time (a stack buffer per head)
constexpr int64_t kMaxGroupRows = 16;   // query heads per kv head handled in one task
constexpr int64_t kMinSplitKeys = 256;  // a span shorter than this is not worth a merge
constexpr int64_t kMaxSplits = 8;       // spans per row at most (2048+ keys: 8 tasks per row)
constexpr int64_t kMaxBf16HeadDim = 512;  // bf16 keys: queries in pair layout on the stack

bool use_rows_path(const Problem& p) {
    return p.Tq <= 4 && p.group() <= kMaxGroupRows && !p.dropout.active() && p.Dv <= 1024;
}

// Partial softmax state of one query row over one span of keys.
struct RowState {
    float m = -kInf, l = 0.f;
    float* o;  // (Dv), unnormalised Σ_j e^(s_j − m) v_j
};

// Σ of each of 16 vectors, as one vector: lane t holds the sum of a[t]'s lanes. Four levels
// of shuffle-and-add halve the partial sums per vector and pair the vectors up (8 + 4 + 2 + 1
// adds of two shuffles each, against 15 dependent scalar adds per vector lane by lane); the
// lanes come out in bit-reversed order, and a last shuffle puts them back.
ATTEND_VECTOR_INLINE f32x16 sums_of(const f32x16 (&a)[16]) {
    f32x16 b[8], c[4], d[2];
    for (int t = 0; t < 8; ++t)  // b[t] = [a[2t] 8 partials | a[2t+1] 8 partials]
        b[t] = __builtin_shufflevector(a[2 * t], a[2 * t + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
               __builtin_shufflevector(a[2 * t], a[2 * t + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30,
                                       31);
    for (int t = 0; t < 4; ++t)  // 4 partials each of keys 4t, 4t+2, 4t+1, 4t+3
        c[t] = __builtin_shufflevector(b[2 * t], b[2 * t + 1], 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) +
               __builtin_shufflevector(b[2 * t], b[2 * t + 1], 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int t = 0; t < 2; ++t)  // 2 partials each of keys 8t + (0, 4, 2, 6, 1, 5, 3, 7)
        d[t] = __builtin_shufflevector(c[2 * t], c[2 * t + 1], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +
               __builtin_shufflevector(c[2 * t], c[2 * t + 1], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    const f32x16 e =  // keys 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15
        __builtin_shufflevector(d[0], d[1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) +
        __builtin_shufflevector(d[0], d[1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    return __builtin_shufflevector(e, e, 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
}

// The same for 8 vectors of 8 (three levels; keys come out as 0 4 2 6 1 5 3 7).
ATTEND_VECTOR_INLINE f32x8 sums_of(const f32x8 (&a)[8]) {
    f32x8 b[4], c[2];
    for (int t = 0; t < 4; ++t)  // b[t] = [a[2t] 4 partials | a[2t+1] 4 partials]
        b[t] = __builtin_shufflevector(a[2 * t], a[2 * t + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
               __builtin_shufflevector(a[2 * t], a[2 * t + 1], 4, 5, 6, 7, 12, 13, 14, 15);
    for (int t = 0; t < 2; ++t)  // 2 partials each of keys 4t, 4t+2, 4t+1, 4t+3
        c[t] = __builtin_shufflevector(b[2 * t], b[2 * t + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
               __builtin_shufflevector(b[2 * t], b[2 * t + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    const f32x8 e = __builtin_shufflevector(c[0], c[1], 0, 8, 2, 10, 4, 12, 6, 14) +
                    __builtin_shufflevector(c[0], c[1], 1, 9, 3, 11, 5, 13, 7, 15);
    return __builtin_shufflevector(e, e, 0, 4, 2, 6, 1, 5, 3, 7);
}

// s[j] = scale · q · K_j for the n keys of K (n ≤ kRowChunk; K is (n, D)). L keys at a time
// (L = F's lanes), each with its own accumulator, so the multiply-adds of different keys
// overlap and one shuffle tree (above) finishes all L; the keys past the last L one by one.
template <class F>
ATTEND_VECTOR_INLINE void score_keys(const float* q, const float* K, int64_t n, int64_t D, float scale, float* s) {
    constexpr int64_t L = lanes_of<F>;
    int64_t j = 0;
    for (; j + L <= n; j += L) {
        F acc[L];
#pragma GCC unroll 16
        for (int t = 0; t < L; ++t) acc[t] = F{};  // in registers: `F acc[L] = {}` was a rep stos per L keys
        int64_t d = 0;
        for (; d + L <= D; d += L) {
            const F qd = load_v<F>(q + d);
            for (int t = 0; t < L; ++t) acc[t] += load_v<F>(K + (j + t) * D + d) * qd;
        }
        if (d < D) {  // a head width that is not a multiple of L
            const F qd = load_partial_v<F>(q + d, D - d, 0.f);
            for (int t = 0; t < L; ++t) acc[t] += load_partial_v<F>(K + (j + t) * D + d, D - d, 0.f) * qd;
        }
        store_v(s + j, sums_of(acc) * scale);
    }
    for (; j < n; ++j) s[j] = scale * dot_of_v<F>(q, K + j * D, D);
}

// o (Dv) += Σ_j w_j V_j over the n rows of V (n, Dv). o stays in registers over the keys, 4
// vectors at a time, with two sets of accumulators (even and odd keys) so consecutive keys'
// multiply-adds do not wait on each other.
template <class F>
ATTEND_VECTOR_INLINE void add_weighted_rows(float* o, const float* w, const float* V, int64_t n, int64_t Dv) {
    constexpr int64_t L = lanes_of<F>;
    constexpr int kBlock = 4;  // vectors of o per sweep over the keys
    int64_t d = 0;
    for (; d + kBlock * L <= Dv; d += kBlock * L) {
        F even[kBlock], odd[kBlock] = {};
        for (int u = 0; u < kBlock; ++u) even[u] = load_v<F>(o + d + u * L);
        int64_t j = 0;
        for (; j + 2 <= n; j += 2)
            for (int u = 0; u < kBlock; ++u) {
                even[u] += w[j] * load_v<F>(V + j * Dv + d + u * L);
                odd[u] += w[j + 1] * load_v<F>(V + (j + 1) * Dv + d + u * L);
            }
        if (j < n)
            for (int u = 0; u < kBlock; ++u) even[u] += w[j] * load_v<F>(V + j * Dv + d + u * L);
        for (int u = 0; u < kBlock; ++u) store_v(o + d + u * L, even[u] + odd[u]);
    }
    for (; d + L <= Dv; d += L) {
        F acc = load_v<F>(o + d);
        for (int64_t j = 0; j < n; ++j) acc += w[j] * load_v<F>(V + j * Dv + d);
        store_v(o + d, acc);
    }
    for (; d < Dv; ++d)
        for (int64_t j = 0; j < n; ++j) o[d] += w[j] * V[j * Dv + d];
}

// ---- the same over bf16 keys and values (a bf16 KV cache) ----------------------------------
// Keys and values load as pairs (ops/simd.hpp, load_pairs_v): over each whole block of 2L
// values, a vector of the even-indexed ones, then one of the odd ones — two integer
// operations widen L values, where a lane-order widening costs five on AVX2 with GCC 12. So
// q is put in that "pair layout" once per span, O is kept in it over the span and put back
// after; values past the last whole block stay in place and are read one by one. The sums
// over values are those of the fp32 kernel on the widened values, element for element; the
// scores add the same products in another order (within rounding of it).

template <class F> ATTEND_VECTOR_INLINE void to_pair_layout(const float* x, int64_t n, float* out) {
    constexpr int64_t L = lanes_of<F>;
    int64_t d = 0;
    for (; d + 2 * L <= n; d += 2 * L)
        for (int64_t l = 0; l < L; ++l) out[d + l] = x[d + 2 * l], out[d + L + l] = x[d + 2 * l + 1];
    for (; d < n; ++d) out[d] = x[d];
}

template <class F> ATTEND_VECTOR_INLINE void from_pair_layout(float* x, int64_t n) {  // in place
    constexpr int64_t L = lanes_of<F>;
    for (int64_t d = 0; d + 2 * L <= n; d += 2 * L) {
        float block[2 * L];
        for (int64_t l = 0; l < L; ++l) block[2 * l] = x[d + l], block[2 * l + 1] = x[d + L + l];
        std::memcpy(x + d, block, sizeof block);
    }
}

// q · k for q in pair layout and k bf16, both of D values.
template <class F> ATTEND_VECTOR_INLINE float dot_of_pairs_v(const float* q, const uint16_t* k, int64_t D) {
    constexpr int64_t L = lanes_of<F>;
    F acc{};
    int64_t d = 0;
    for (; d + 2 * L <= D; d += 2 * L) {
        F ke, ko;
        load_pairs_v(k + d, ke, ko);
        acc += ke * load_v<F>(q + d);
        acc += ko * load_v<F>(q + d + L);
    }
    float sum = horizontal_sum(acc);
    for (; d < D; ++d) sum += q[d] * from_bf16(k[d]);
    return sum;
}

// score_keys over bf16 keys, q in pair layout.
template <class F>
ATTEND_VECTOR_INLINE void score_keys(const float* q, const uint16_t* K, int64_t n, int64_t D, float scale, float* s) {
    constexpr int64_t L = lanes_of<F>;
    const int64_t whole = D / (2 * L) * (2 * L);  // dims in whole pair blocks
    int64_t j = 0;
    for (; j + L <= n; j += L) {
        F acc[L];
#pragma GCC unroll 16
        for (int t = 0; t < L; ++t) acc[t] = F{};
        for (int64_t d = 0; d < whole; d += 2 * L) {
            const F qe = load_v<F>(q + d), qo = load_v<F>(q + d + L);
            for (int t = 0; t < L; ++t) {
                F ke, ko;
                load_pairs_v(K + (j + t) * D + d, ke, ko);
                acc[t] += ke * qe;
                acc[t] += ko * qo;
            }
        }
        F sums = sums_of(acc);
        if (whole < D)  // a head width that is not a multiple of 2L: the rest one by one
            for (int t = 0; t < L; ++t)
                for (int64_t d = whole; d < D; ++d) sums[t] += q[d] * from_bf16(K[(j + t) * D + d]);
        store_v(s + j, sums * scale);
    }
    for (; j < n; ++j) s[j] = scale * dot_of_pairs_v<F>(q, K + j * D, D);
}

// add_weighted_rows over bf16 values, o in pair layout: the same accumulators per element.
template <class F>
ATTEND_VECTOR_INLINE void add_weighted_rows(float* o, const float* w, const uint16_t* V, int64_t n, int64_t Dv) {
    constexpr int64_t L = lanes_of<F>;
    constexpr int kBlock = 4;  // vectors of o per sweep over the keys: two pair blocks
    int64_t d = 0;
    for (; d + kBlock * L <= Dv; d += kBlock * L) {
        F even[kBlock], odd[kBlock] = {};  // even and odd keys
        for (int u = 0; u < kBlock; ++u) even[u] = load_v<F>(o + d + u * L);
        int64_t j = 0;
        for (; j + 2 <= n; j += 2)
            for (int u = 0; u < kBlock; u += 2) {
                F a0, a1, b0, b1;
                load_pairs_v(V + j * Dv + d + u * L, a0, a1);
                load_pairs_v(V + (j + 1) * Dv + d + u * L, b0, b1);
                even[u] += w[j] * a0, even[u + 1] += w[j] * a1;
                odd[u] += w[j + 1] * b0, odd[u + 1] += w[j + 1] * b1;
            }
        if (j < n)
            for (int u = 0; u < kBlock; u += 2) {
                F a0, a1;
                load_pairs_v(V + j * Dv + d + u * L, a0, a1);
                even[u] += w[j] * a0, even[u + 1] += w[j] * a1;
            }
        for (int u = 0; u < kBlock; ++u) store_v(o + d + u * L, even[u] + odd[u]);
    }
    for (; d + 2 * L <= Dv; d += 2 * L) {
        F acc0 = load_v<F>(o + d), acc1 = load_v<F>(o + d + L);
        for (int64_t j = 0; j < n; ++j) {
            F a0, a1;
            load_pairs_v(V + j * Dv + d, a0, a1);
            acc0 += w[j] * a0, acc1 += w[j] * a1;
        }
        store_v(o + d, acc0), store_v(o + d + L, acc1);
    }
    for (; d < Dv; ++d)
        for (int64_t j = 0; j < n; ++j) o[d] += w[j] * from_bf16(V[j * Dv + d]);
}

// The `rows` query heads h0.. h0 + rows − 1 (one kv head), query row i, keys [j0, j1); keys
// and values of element type E (p.k, p.v for float, p.k16, p.v16 for bf16).
template <class F, class E>
ATTEND_VECTOR_INLINE void attend_span_v(const Problem& p, int64_t b, int64_t h0, int64_t rows, int64_t i, int64_t j0,
                                        int64_t j1, RowState* state) {
    constexpr bool bf16 = std::is_same_v<E, uint16_t>;
    float scores[kMaxGroupRows][kRowChunk];
    const E* keys;
    const E* values;
    if constexpr (bf16) keys = p.k16, values = p.v16;
    else keys = p.k, values = p.v;
    const E* K = keys + p.kv_row(b, h0, 0) * p.D;     // (Tk, D) of this kv head
    const E* V = values + p.kv_row(b, h0, 0) * p.Dv;  // (Tk, Dv)
    // bf16: each head's query in pair layout, and O in it over the span (see above).
    float q_pairs[bf16 ? kMaxGroupRows : 1][bf16 ? kMaxBf16HeadDim : 1];
    const auto query = [&](int64_t g) {
        if constexpr (bf16) return static_cast<const float*>(q_pairs[g]);
        else return p.q + p.q_row(b, h0 + g, i) * p.D;
    };
    if constexpr (bf16)
        for (int64_t g = 0; g < rows; ++g) to_pair_layout<F>(p.q + p.q_row(b, h0 + g, i) * p.D, p.D, q_pairs[g]);
    for (int64_t c0 = j0; c0 < j1; c0 += kRowChunk) {
        const int64_t n = std::min(kRowChunk, j1 - c0);
        for (int64_t g = 0; g < rows; ++g) {
            float* s = scores[g];
            score_keys<F>(query(g), K + c0 * p.D, n, p.D, p.scale, s);
            if (p.mask->has_elementwise())
                for (int64_t j = 0; j < n; ++j) s[j] += p.mask->bias(b, h0 + g, i, c0 + j);
            RowState& st = state[g];
            const float m_new = std::max(st.m, max_of_v<F>(s, n));
            if (m_new == -kInf) {  // nothing visible yet: this chunk adds nothing
                for (int64_t j = 0; j < n; ++j) s[j] = 0.f;
                continue;
            }
            const float alpha = std::exp(st.m - m_new);
            st.l = alpha * st.l + exp_shifted_v<F>(s, s, n, m_new, 1.f);
            if (alpha != 1.f) scale_row_v<F>(st.o, p.Dv, alpha);
            st.m = m_new;
        }
        // O_g += Σ_j P̃_gj V_j; the chunk's value rows stay in cache for every head of the group.
        for (int64_t g = 0; g < rows; ++g) add_weighted_rows<F>(state[g].o, scores[g], V + c0 * p.Dv, n, p.Dv);
    }
    if constexpr (bf16)
        for (int64_t g = 0; g < rows; ++g) from_pair_layout<F>(state[g].o, p.Dv);
}

// Target clones cannot be templates (GCC), so one function per vector width and element type.
ATTEND_SIMD_CLONES void attend_span_16(const Problem& p, int64_t b, int64_t h0, int64_t rows, int64_t i, int64_t j0,
                                       int64_t j1, RowState* state) {
    attend_span_v<f32x16, float>(p, b, h0, rows, i, j0, j1, state);
}
ATTEND_SIMD_CLONES void attend_span_bf16_16(const Problem& p, int64_t b, int64_t h0, int64_t rows, int64_t i,
                                            int64_t j0, int64_t j1, RowState* state) {
    attend_span_v<f32x16, uint16_t>(p, b, h0, rows, i, j0, j1, state);
}
ATTEND_AVX2_FMA void attend_span_8(const Problem& p, int64_t b, int64_t h0, int64_t rows, int64_t i, int64_t j0,
                                   int64_t j1, RowState* state) {
    attend_span_v<f32x8, float>(p, b, h0, rows, i, j0, j1, state);
}
ATTEND_AVX2_FMA void attend_span_bf16_8(const Problem& p, int64_t b, int64_t h0, int64_t rows, int64_t i, int64_t j0,
                                        int64_t j1, RowState* state) {
    attend_span_v<f32x8, uint16_t>(p, b, h0, rows, i, j0, j1, state);
}
void attend_span(const Problem& p, int64_t b, int64_t h0, int64_t rows, int64_t i, int64_t j0, int64_t j1,
                 RowState* state) {
    const bool avx2 = cpu_prefers_avx2_kernels();
    if (p.k16) avx2 ? attend_span_bf16_8(p, b, h0, rows, i, j0, j1, state)
                    : attend_span_bf16_16(p, b, h0, rows, i, j0, j1, state);
    else avx2 ? attend_span_8(p, b, h0, rows, i, j0, j1, state) : attend_span_16(p, b, h0, rows, i, j0, j1, state);
}

void forward_rows(const Problem& p, float* out, float* stats) {
    const int64_t group = p.group(), rows = p.B * p.Hkv * p.Tq;  // a "row" is one query position of a kv head
    // Each row splits its own visible keys into clamp(len / 256, 1, kMaxSplits) spans — a count
    // that depends on that row alone, never on the other rows, the buffer's capacity or the
    // thread count, so a sequence's output is bit-identical whichever batch it decodes in (the
    // server's continuous batching relies on it: serve/scheduler.cpp). Tasks past a row's own
    // count do nothing and merge as empty.
    const int64_t splits = std::clamp<int64_t>(p.Tk / kMinSplitKeys, 1, kMaxSplits);
    const int64_t width = 2 + p.Dv;  // per (head, split): m, l, O
    // Kept across calls (every value is written before it is read): a decoding step makes no
    // allocation for it. The workers must read the calling thread's copy, and a lambda that
    // named a thread_local would reach each thread's own: they go by these references.
    thread_local std::vector<float> reused_partial;
    std::vector<float>& partial = reused_partial;
    partial.resize(size_t(rows * splits * group * width));
    const int64_t tasks = rows * splits;
    // The work is what the rows can see, not the buffer: a KV cache's capacity (Tk) may be far
    // past its sequences' lengths, and idle rows of a serving batch see nothing — threads woken
    // for them only cost (on a busy machine, milliseconds per step).
    int64_t visible = 0;
    for (int64_t row = 0; row < rows; ++row) {
        const KeyRange r = p.mask->key_range((row / p.Tq) / p.Hkv, row % p.Tq);
        visible += std::max<int64_t>(0, r.end - r.begin);
    }
    const auto keys_of = [&](int64_t task, int64_t& j0, int64_t& j1) {  // the task's span [j0, j1)
        const int64_t split = task % splits, row = task / splits;
        // The keys every head of the group may see (the mask's range does not depend on h).
        const KeyRange range = p.mask->key_range((row / p.Tq) / p.Hkv, row % p.Tq);
        const int64_t len = std::max<int64_t>(0, range.end - range.begin);
        const int64_t own = std::clamp<int64_t>(len / kMinSplitKeys, 1, kMaxSplits);
        const int64_t span = (len + own - 1) / own;
        j0 = split < own ? std::min(range.end, range.begin + split * span) : range.end;
        j1 = std::min(range.end, j0 + span);
    };
    auto run_task = [&](int64_t task) {
        const int64_t split = task % splits, row = task / splits;
        const int64_t i = row % p.Tq, bkv = row / p.Tq, b = bkv / p.Hkv, h0 = (bkv % p.Hkv) * group;
        int64_t j0, j1;
        keys_of(task, j0, j1);
        RowState state[kMaxGroupRows];
        float* mine = partial.data() + (row * splits + split) * group * width;
        for (int64_t g = 0; g < group; ++g) {
            state[g].o = mine + g * width + 2;
            std::fill(state[g].o, state[g].o + p.Dv, 0.f);
        }
        if (j0 < j1) attend_span(p, b, h0, group, i, j0, j1, state);
        for (int64_t g = 0; g < group; ++g) mine[g * width] = state[g].m, mine[g * width + 1] = state[g].l;
    };
    // No GEMM inside: one thread runs the tasks itself, outside OpenMP (core/parallel_loop.hpp
    // says why). More split the tasks in order into runs of about equal keys, fixed before the
    // region: a task taken at run time (schedule(dynamic)) costs a cache line passed between
    // cores, ~0.7 µs on our VMs, and a decoding step of GPT-2 small has 48 tasks (12 rows × 4
    // splits of a 1024-key cache, most of them empty) of 0–20 µs. 12 heads × 80 keys, in cache,
    // two threads: 16.9–17.4 → 12.8–13.4 µs a call (one thread 11.4–12.6 either way; Zen 5 VM,
    // medians of 30, the two libraries by turns).
    const int64_t work = visible * group * (p.D + p.Dv);
    // ends[k]: the keys of tasks [0, k], plus a few per task for its fixed costs.
    constexpr int64_t kTaskKeys = 8;
    // Filled whether or not the tasks are split (a few dozen): sized by the tasks alone, its
    // room is taken once, not on the step whose visible keys first make threads worth it.
    thread_local std::vector<int64_t> reused_ends;  // kept across calls, as partial
    std::vector<int64_t>& ends = reused_ends;
    ends.resize(size_t(tasks));
    int64_t keys = 0;
    for (size_t task = 0; task < ends.size(); ++task) {
        int64_t j0, j1;
        keys_of(int64_t(task), j0, j1);
        keys += j1 - j0;
        ends[task] = keys + int64_t(task + 1) * kTaskKeys;
    }
    run_shares(work, tasks, [&](int64_t t, int64_t threads) {
        if (threads == 1) {
            for (int64_t task = 0; task < tasks; ++task) run_task(task);
            return;
        }
        // A task is this thread's when the middle of its cost lies in [t, t + 1) · total / threads.
        const int64_t total = ends.back();
        for (int64_t task = 0; task < tasks; ++task) {
            const int64_t twice_middle = (task ? ends[size_t(task - 1)] : 0) + ends[size_t(task)];
            if (twice_middle * threads / (2 * total) == t) run_task(task);
        }
    });
    // Merge the splits of each (row, head) and normalise.
    for (int64_t row = 0; row < rows; ++row) {
        const int64_t i = row % p.Tq, bkv = row / p.Tq, b = bkv / p.Hkv, h0 = (bkv % p.Hkv) * group;
        for (int64_t g = 0; g < group; ++g) {
            const auto at = [&](int64_t split) { return partial.data() + ((row * splits + split) * group + g) * width; };
            float m = -kInf;
            for (int64_t s = 0; s < splits; ++s) m = std::max(m, at(s)[0]);
            float* o = out + p.q_row(b, h0 + g, i) * p.Dv;
            std::fill(o, o + p.Dv, 0.f);
            float l = 0.f;
            if (m != -kInf)
                for (int64_t s = 0; s < splits; ++s) {
                    const float* part = at(s);
                    if (part[0] == -kInf) continue;
                    const float f = std::exp(part[0] - m);
                    l += f * part[1];
                    for (int64_t d = 0; d < p.Dv; ++d) o[d] += f * part[2 + d];
                }
            const bool seen = l > 0.f;  // false: every key masked → O = 0
            const float inv_l = seen ? 1.f / l : 0.f;
            if (seen) scale_row(o, p.Dv, inv_l);
            float* st = stats + p.q_row(b, h0 + g, i) * 2;
            st[0] = seen ? m : kInf;
            st[1] = inv_l;
        }
    }
}

// ---- backward ------------------------------------------------------------------------------

struct Gradients {
    const float* dout;   // (B, H, Tq, Dv)
    const float* stats;  // (B, H, Tq, 2): (m, 1/l)
    const float* delta;  // (B, H, Tq): Δ
    float* dq;           // (B, H, Tq, D)
    float* dk;           // (B, Hkv, Tk, D)
    float* dv;           // (B, Hkv, Tk, Dv)
};

// One tile pair: recompute P, form dS, and add the products this pass owns.
void backward_tile(const Problem& p, const Gradients& g, int64_t b, int64_t h, const Tile& t, bool want_dq,
                   bool want_dkv, float* P, float* dS) {
    const int64_t row0 = p.q_row(b, h, t.i0), key0 = p.kv_row(b, h, t.k0);
    tile_scores(p, b, h, t, P);
    for (int64_t r = 0; r < t.rows; ++r)  // P = exp(S − m) / l
        exp_shifted(P + r * t.cols, P + r * t.cols, t.cols, g.stats[2 * (row0 + r)], g.stats[2 * (row0 + r) + 1]);
    const float* dout = g.dout + row0 * p.Dv;  // (rows, Dv)
    // dP = dO V_jᵀ, then dS = P ⊙ (dP − Δ)
    sgemm(false, true, t.rows, t.cols, p.Dv, 1.f, dout, p.Dv, p.v + key0 * p.Dv, p.Dv, 0.f, dS, t.cols);
    if (p.dropout.active())  // dP ⊙ M/(1 − p)
        for (int64_t r = 0; r < t.rows; ++r) p.dropout.apply(dS + r * t.cols, t.cols, b, h, t.i0 + r, t.k0);
    for (int64_t r = 0; r < t.rows; ++r)
        softmax_grad_row(P + r * t.cols, dS + r * t.cols, t.cols, g.delta[row0 + r]);
    if (want_dkv) {
        if (p.dropout.active())  // P̃ = P ⊙ M/(1 − p), for dV
            for (int64_t r = 0; r < t.rows; ++r) p.dropout.apply(P + r * t.cols, t.cols, b, h, t.i0 + r, t.k0);
        // dV_j += P̃ᵀ dO,  dK_j += scale · dSᵀ Q_t
        sgemm(true, false, t.cols, p.Dv, t.rows, 1.f, P, t.cols, dout, p.Dv, 1.f, g.dv + key0 * p.Dv, p.Dv);
        sgemm(true, false, t.cols, p.D, t.rows, p.scale, dS, t.cols, p.q + row0 * p.D, p.D, 1.f, g.dk + key0 * p.D,
              p.D);
    }
    if (want_dq)  // dQ_t += scale · dS K_j
        sgemm(false, false, t.rows, p.D, t.cols, p.scale, dS, t.cols, p.k + key0 * p.D, p.D, 1.f, g.dq + row0 * p.D,
              p.D);
}

// Fraction of the threads busy when `tasks` equal tasks run in rounds over `threads`.
double occupancy(int64_t tasks, int64_t threads) {
    const int64_t rounds = (tasks + threads - 1) / threads;
    return rounds == 0 ? 1.0 : double(tasks) / double(rounds * threads);
}

void backward(const Problem& p, const Gradients& g) {
    const std::vector<KeyRange> spans = visible_key_tiles(p);
    const int64_t q_tiles = p.q_tiles(), k_tiles = p.k_tiles(), group = p.group();
    const auto span_of = [&](int64_t b, int64_t qt) { return spans[size_t(b * q_tiles + qt)]; };

    // One sweep does 5 tile products, two passes 7: sweep unless it would idle > 5/7 of the threads.
    // (A small problem runs either schedule on one thread; the choice still follows the pool.)
    const bool one_sweep = occupancy(p.B * p.Hkv, omp_get_max_threads()) >= 5.0 / 7.0;
#pragma omp parallel if (worth_threads(p))
    {
        std::vector<float> P(size_t(kTileQ * kTileK)), dS(size_t(kTileQ * kTileK));
        if (one_sweep) {
            // Task (b, kv head): owns dK, dV of that head and dQ of its `group` query heads.
#pragma omp for schedule(dynamic, 1)
            for (int64_t task = 0; task < p.B * p.Hkv; ++task) {
                const int64_t b = task / p.Hkv, h0 = (task % p.Hkv) * group;
                std::fill(g.dk + p.kv_row(b, h0, 0) * p.D, g.dk + p.kv_row(b, h0, p.Tk) * p.D, 0.f);
                std::fill(g.dv + p.kv_row(b, h0, 0) * p.Dv, g.dv + p.kv_row(b, h0, p.Tk) * p.Dv, 0.f);
                std::fill(g.dq + p.q_row(b, h0, 0) * p.D, g.dq + p.q_row(b, h0 + group, 0) * p.D, 0.f);
                for (int64_t h = h0; h < h0 + group; ++h)
                    for (int64_t qt = 0; qt < q_tiles; ++qt)
                        for (int64_t kt = span_of(b, qt).begin; kt < span_of(b, qt).end; ++kt)
                            backward_tile(p, g, b, h, make_tile(p, qt, kt), true, true, P.data(), dS.data());
            }
        } else {
            // Pass 1, task (b, h, query tile): owns that tile of dQ.
#pragma omp for schedule(dynamic, 1)
            for (int64_t task = 0; task < p.B * p.H * q_tiles; ++task) {
                const int64_t qt = q_tiles - 1 - task % q_tiles, bh = task / q_tiles, b = bh / p.H, h = bh % p.H;
                const Tile first = make_tile(p, qt, 0);
                float* dq = g.dq + p.q_row(b, h, first.i0) * p.D;
                std::fill(dq, dq + first.rows * p.D, 0.f);
                for (int64_t kt = span_of(b, qt).begin; kt < span_of(b, qt).end; ++kt)
                    backward_tile(p, g, b, h, make_tile(p, qt, kt), true, false, P.data(), dS.data());
            }
            // Pass 2, task (b, kv head, key tile): owns that tile of dK and dV, summed over the
            // query heads of the group and the query tiles that see it.
#pragma omp for schedule(dynamic, 1)
            for (int64_t task = 0; task < p.B * p.Hkv * k_tiles; ++task) {
                const int64_t kt = task % k_tiles, bkv = task / k_tiles, b = bkv / p.Hkv, h0 = (bkv % p.Hkv) * group;
                const Tile first = make_tile(p, 0, kt);
                std::fill(g.dk + p.kv_row(b, h0, first.k0) * p.D, g.dk + p.kv_row(b, h0, first.k0 + first.cols) * p.D,
                          0.f);
                std::fill(g.dv + p.kv_row(b, h0, first.k0) * p.Dv,
                          g.dv + p.kv_row(b, h0, first.k0 + first.cols) * p.Dv, 0.f);
                for (int64_t h = h0; h < h0 + group; ++h)
                    for (int64_t qt = 0; qt < q_tiles; ++qt)
                        if (span_of(b, qt).begin <= kt && kt < span_of(b, qt).end)
                            backward_tile(p, g, b, h, make_tile(p, qt, kt), false, true, P.data(), dS.data());
            }
        }
    }
}

Problem make_problem(const Tensor& q, const Tensor& k, const Tensor& v, const MaskPlan& mask, float scale,
                     const AttentionDropout& dropout) {
    return {q.size(0), q.size(1), k.size(1), q.size(2), k.size(2), q.size(3), v.size(3), scale, &mask, dropout,
            q.data(), k.data(), v.data()};
}

}  // namespace

Tensor fused_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const MaskPlan& mask,
                       float scale, const AttentionDropout& dropout) {
    const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const Problem p = make_problem(q, k, v, mask, scale, dropout);
    Tensor out = Tensor::empty({p.B, p.H, p.Tq, p.Dv});  // (B, H, Tq, Dv)
    Tensor stats = Tensor::empty({p.B, p.H, p.Tq, 2});   // (B, H, Tq, 2): (m, 1/l)
    const bool differentiated = needs_grad({q_in, k_in, v_in});
    if (!differentiated && use_rows_path(p))
        forward_rows(p, out.data(), stats.data());
    else
        forward(p, out.data(), stats.data());

    return record(out, "fused_attention", {q_in, k_in, v_in},
                  [q = q.detach(), k = k.detach(), v = v.detach(), out = out.detach(), stats, mask,
                   scale, dropout](const Tensor& g_in) {
                      const Problem p = make_problem(q, k, v, mask, scale, dropout);
                      const Tensor dout = g_in.contiguous();  // (B, H, Tq, Dv)
                      Tensor delta = Tensor::empty({p.B, p.H, p.Tq});
                      const int64_t rows = p.B * p.H * p.Tq;
#pragma omp parallel for schedule(static) if (worth_threading(2 * rows * p.Dv, rows))  // reads dO and O
                      for (int64_t i = 0; i < rows; ++i)  // Δ_i = Σ_d dO_id O_id
                          delta.data()[i] = dot_of(dout.data() + i * p.Dv, out.data() + i * p.Dv, p.Dv);
                      Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()),
                             dv = Tensor::empty(v.shape());  // every element written by backward()
                      backward(p, {dout.data(), stats.data(), delta.data(), dq.data(), dk.data(), dv.data()});
                      return std::vector<Tensor>{dq, dk, dv};
                  });
}

Tensor fused_attention_bf16_rows(const Tensor& q_in, const Bf16KeysValues& kv, const MaskPlan& mask, float scale) {
    const Tensor q = q_in.contiguous();
    Problem p{q.size(0), q.size(1), kv.kv_heads, q.size(2), kv.keys, q.size(3), kv.value_dim, scale, &mask, {},
              q.data(), nullptr, nullptr};
    p.k16 = kv.k, p.v16 = kv.v;
    if (!use_rows_path(p) || p.D > kMaxBf16HeadDim) return Tensor();
    Tensor out = Tensor::empty({p.B, p.H, p.Tq, p.Dv});  // (B, H, Tq, Dv)
    thread_local std::vector<float> stats;  // (m, 1/l): no backward reads them; kept across calls
    stats.resize(size_t(p.B * p.H * p.Tq * 2));
    forward_rows(p, out.data(), stats.data());
    return out;
}

}  // namespace attend
