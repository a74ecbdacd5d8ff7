// ops/norm.cpp — LayerNorm and RMSNorm over the last dimension, forward and backward side by side.
//
// LayerNorm (Ba et al. 2016), per row of D values, biased variance:
//   μ = Σ x / D,   σ² = Σ (x − μ)² / D,   r = 1 / √(σ² + ε),   x̂ = (x − μ) · r
//   y = x̂ · w + b
//   dx̂ = dy · w
//   dx = r · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))
//   dw = Σ_rows dy · x̂,   db = Σ_rows dy
//
// RMSNorm (Zhang & Sennrich 2019):
//   r = 1 / √(Σ x² / D + ε),   x̂ = x · r,   y = x̂ · w
//   dx = r · (dx̂ − x̂ · mean(dx̂ · x̂)),   dw = Σ_rows dy · x̂
//
// weight and bias may be undefined (then they act as 1 and 0 and get no gradient).
// Row statistics are float, in two passes: a first mean c, then the deviations from it,
//   δ = Σ (x − c) / D,   μ = c + δ,   σ² = (Σ (x − c)² − (Σ (x − c))² / D) / D
// (the corrected two-pass form, Chan, Golub & LeVeque 1983), and x̂ = ((x − c) − δ) · r.
// μ itself is never rounded to a float: when |μ| ≫ σ (say x ≈ 100 ± 0.01) its rounding
// error alone, ulp(μ)/2, would shift every x̂ by ~4e-4. x − c is exact there (Sterbenz).
//
// dw and db sum over every row. To stay bit-for-bit reproducible whatever the thread count,
// rows are cut into a fixed number of chunks, each chunk sums its own partial, and the
// partials are added in chunk order.
#include <algorithm>
#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "ops/row_kernels.hpp"  // sum_of_v
#include "ops/simd.hpp"

namespace attend {

namespace {

constexpr int64_t kMaxChunks = 64;       // partial sums for dw / db

// ---- row kernels ---------------------------------------------------------------------------
// Written once over a GCC vector type F (ops/simd.hpp) and compiled twice: on 16 floats as
// target clones, and on 8 floats for AVX2 + FMA, which CPUs without AVX-512 call instead
// (cpu_prefers_avx2_kernels(); ops/simd.hpp says why: the clones' 64-byte vectors live on the
// stack there). Tails are loaded padded with zeros, which add nothing to any sum below. The
// mean is ops/row_kernels.hpp's sum_of_v.

// s1 = Σ (x − c),  s2 = Σ (x − c)²
template <class F>
ATTEND_VECTOR_INLINE void shifted_sums_v(const float* x, int64_t n, float c, float& s1_out, float& s2_out) {
    constexpr int64_t L = lanes_of<F>;
    F s1{}, s2{};
    int64_t i = 0;
    for (; i + L <= n; i += L) {
        const F v = load_v<F>(x + i) - c;
        s1 += v;
        s2 += v * v;
    }
    if (i < n) {
        const F v = load_partial_v<F>(x + i, n - i, c) - c;  // padded with c: v = 0
        s1 += v;
        s2 += v * v;
    }
    s1_out = horizontal_sum(s1);
    s2_out = horizontal_sum(s2);
}

// A row's statistics: x̂ = ((x − shift) − delta) · rstd. RMSNorm: shift = delta = 0.
struct RowStats {
    float shift, delta, rstd;
};

template <class F>
ATTEND_VECTOR_INLINE F xhat_v(const F& x, RowStats s) {
    return ((x - s.shift) - s.delta) * s.rstd;
}

// Loads a whole vector, or the m < lanes left at the end of a row (padded with zeros).
template <class F>
ATTEND_VECTOR_INLINE F load_row(const float* p, int64_t m) {
    return m == lanes_of<F> ? load_v<F>(p) : load_partial_v<F>(p, m, 0.f);
}
template <class F>
ATTEND_VECTOR_INLINE void store_row(float* p, int64_t m, const F& v) {
    if (m == lanes_of<F>)
        store_v(p, v);
    else
        store_partial_v(p, m, v);
}

// y = x̂ · w + b; kW / kB say whether w / b exist (branches hoisted out of the loop).
template <class F, bool kW, bool kB>
ATTEND_VECTOR_INLINE void normalize_row_as(const float* x, float* y, int64_t n, RowStats s, const float* w,
                                           const float* b) {
    for (int64_t i = 0; i < n; i += lanes_of<F>) {
        const int64_t m = std::min(lanes_of<F>, n - i);
        F v = xhat_v(load_row<F>(x + i, m), s);
        if constexpr (kW) v *= load_row<F>(w + i, m);
        if constexpr (kB) v += load_row<F>(b + i, m);
        store_row(y + i, m, v);
    }
}

// y = x̂ · w + b, with w / b null meaning 1 / 0.
template <class F>
ATTEND_VECTOR_INLINE void normalize_row_v(const float* x, float* y, int64_t n, RowStats s, const float* w,
                                          const float* b) {
    if (w && b) return normalize_row_as<F, true, true>(x, y, n, s, w, b);
    if (w) return normalize_row_as<F, true, false>(x, y, n, s, w, b);
    if (b) return normalize_row_as<F, false, true>(x, y, n, s, w, b);
    return normalize_row_as<F, false, false>(x, y, n, s, w, b);
}

// The shared backward row: writes
//   dx = r · (dx̂ − [centered] · mean(dx̂) − x̂ · mean(dx̂ · x̂)),  dx̂ = dy · w
// and adds dy · x̂ to dw_acc and dy to db_acc when they are given (kW: w and dw_acc are; kB:
// db_acc is).
template <class F, bool kW, bool kB>
ATTEND_VECTOR_INLINE void norm_backward_row_as(const float* x, const float* dy, float* dx, int64_t n, RowStats s,
                                               const float* w, bool centered, float* dw_acc, float* db_acc) {
    constexpr int64_t L = lanes_of<F>;
    F sum_dxhat{}, sum_dxhat_xhat{};
    for (int64_t i = 0; i < n; i += L) {
        const int64_t m = std::min(L, n - i);
        F dxhat = load_row<F>(dy + i, m);  // zero in the padding, so it adds nothing
        if constexpr (kW) dxhat *= load_row<F>(w + i, m);
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat_v(load_row<F>(x + i, m), s);
    }
    const float mean_dxhat = centered ? horizontal_sum(sum_dxhat) / float(n) : 0.f;
    const float mean_dxhat_xhat = horizontal_sum(sum_dxhat_xhat) / float(n);
    for (int64_t i = 0; i < n; i += L) {
        const int64_t m = std::min(L, n - i);
        const F g = load_row<F>(dy + i, m), xhat = xhat_v(load_row<F>(x + i, m), s);
        F dxhat = g;
        if constexpr (kW) dxhat *= load_row<F>(w + i, m);
        store_row(dx + i, m, s.rstd * ((dxhat - mean_dxhat) - xhat * mean_dxhat_xhat));
        if constexpr (kW) store_row(dw_acc + i, m, load_row<F>(dw_acc + i, m) + g * xhat);
        if constexpr (kB) store_row(db_acc + i, m, load_row<F>(db_acc + i, m) + g);
    }
}

template <class F>
ATTEND_VECTOR_INLINE void norm_backward_row_v(const float* x, const float* dy, float* dx, int64_t n, RowStats s,
                                              const float* w, bool centered, float* dw_acc, float* db_acc) {
    if (w && db_acc) return norm_backward_row_as<F, true, true>(x, dy, dx, n, s, w, centered, dw_acc, db_acc);
    if (w) return norm_backward_row_as<F, true, false>(x, dy, dx, n, s, w, centered, dw_acc, db_acc);
    if (db_acc) return norm_backward_row_as<F, false, true>(x, dy, dx, n, s, w, centered, dw_acc, db_acc);
    return norm_backward_row_as<F, false, false>(x, dy, dx, n, s, w, centered, dw_acc, db_acc);
}

// One row's forward: its statistics (centered: LayerNorm, else RMSNorm), then y.
template <class F>
ATTEND_VECTOR_INLINE RowStats normalize_one_row_v(const float* x, float* y, int64_t d, bool centered, float eps,
                                                  const float* w, const float* b) {
    const float c = centered ? sum_of_v<F>(x, d) / float(d) : 0.f;
    float s1, s2;
    shifted_sums_v<F>(x, d, c, s1, s2);
    // LayerNorm: corrected mean and variance; RMSNorm (c = 0): mean(x²)
    const float var = centered ? std::max(0.f, (s2 - s1 * s1 / float(d)) / float(d)) : s2 / float(d);
    const RowStats s{c, centered ? s1 / float(d) : 0.f, 1.f / std::sqrt(var + eps)};
    normalize_row_v<F>(x, y, d, s, w, b);
    return s;
}

// Each kernel's two instances and the call that picks one.
ATTEND_SIMD_CLONES RowStats normalize_one_row_16(const float* x, float* y, int64_t d, bool centered, float eps,
                                                 const float* w, const float* b) {
    return normalize_one_row_v<f32x16>(x, y, d, centered, eps, w, b);
}
ATTEND_AVX2_FMA RowStats normalize_one_row_8(const float* x, float* y, int64_t d, bool centered, float eps,
                                             const float* w, const float* b) {
    return normalize_one_row_v<f32x8>(x, y, d, centered, eps, w, b);
}
RowStats normalize_one_row(const float* x, float* y, int64_t d, bool centered, float eps, const float* w,
                           const float* b) {
    return cpu_prefers_avx2_kernels() ? normalize_one_row_8(x, y, d, centered, eps, w, b)
                                      : normalize_one_row_16(x, y, d, centered, eps, w, b);
}

ATTEND_SIMD_CLONES void norm_backward_row_16(const float* x, const float* dy, float* dx, int64_t n, RowStats s,
                                             const float* w, bool centered, float* dw_acc, float* db_acc) {
    norm_backward_row_v<f32x16>(x, dy, dx, n, s, w, centered, dw_acc, db_acc);
}
ATTEND_AVX2_FMA void norm_backward_row_8(const float* x, const float* dy, float* dx, int64_t n, RowStats s,
                                         const float* w, bool centered, float* dw_acc, float* db_acc) {
    norm_backward_row_v<f32x8>(x, dy, dx, n, s, w, centered, dw_acc, db_acc);
}
void norm_backward_row(const float* x, const float* dy, float* dx, int64_t n, RowStats s, const float* w,
                       bool centered, float* dw_acc, float* db_acc) {
    cpu_prefers_avx2_kernels() ? norm_backward_row_8(x, dy, dx, n, s, w, centered, dw_acc, db_acc)
                               : norm_backward_row_16(x, dy, dx, n, s, w, centered, dw_acc, db_acc);
}

void check_param(const Tensor& p, int64_t d, const char* op, const char* what, const Shape& x_shape) {
    if (!p.defined()) return;
    ATTEND_CHECK(p.dim() == 1 && p.size(0) == d, op, ": ", what, " of shape ", to_string(p.shape()),
                 " does not match the last dimension of the input ", to_string(x_shape), " (expected (", d,
                 ",))");
}

// Forward and backward of both norms; `centered` selects LayerNorm (subtract μ) over RMSNorm.
Tensor normalize(const char* name, bool centered, const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                 float eps) {
    ATTEND_CHECK(x_in.dim() >= 1, name, ": input must have at least one dimension, got a scalar");
    const int64_t d = x_in.size(-1);
    ATTEND_CHECK(d > 0, name, ": the last dimension of ", to_string(x_in.shape()), " is empty");
    check_param(weight, d, name, "weight", x_in.shape());
    check_param(bias, d, name, "bias", x_in.shape());
    ATTEND_CHECK(eps >= 0.f, name, ": eps must be >= 0, got ", eps);

    const Tensor x = x_in.contiguous();
    const Tensor w = weight.defined() ? weight.contiguous() : Tensor();
    const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
    const int64_t rows = x.numel() / d;
    Tensor y = Tensor::empty(x.shape());  // (rows, d)
    const bool differentiated = needs_grad({x_in, weight, bias});
    std::vector<RowStats> stats(differentiated ? size_t(rows) : 0);  // for the backward only
    const float* px = x.data();
    const float* pw = w.defined() ? w.data() : nullptr;
    const float* pb = b.defined() ? b.data() : nullptr;
    float* py = y.data();
    parallel_loop(rows, 2 * rows * d, [&](int64_t r) {  // work: two passes a row
        const RowStats row = normalize_one_row(px + r * d, py + r * d, d, centered, eps, pw, pb);
        if (differentiated) stats[r] = row;
    });

    return record(
        y, name, {x_in, weight, bias},
        [x = x.detach(), w = w.defined() ? w.detach() : Tensor(), has_bias = b.defined(), stats = std::move(stats),
         rows, d, centered](const Tensor& g_in) {
            const Tensor g = g_in.contiguous();  // (rows, d)
            Tensor dx = Tensor::empty(x.shape());
            const bool has_weight = w.defined();
            const int64_t chunks = std::min(rows, kMaxChunks);
            // partial[c] = [dw (d) | db (d)] summed over the rows of chunk c
            std::vector<float> partial(has_weight || has_bias ? size_t(chunks * 2 * d) : 0, 0.f);
            const float* px = x.data();
            const float* pg = g.data();
            const float* pw = has_weight ? w.data() : nullptr;
            float* pdx = dx.data();
            parallel_loop(chunks, 2 * rows * d, [&](int64_t c) {
                float* dw_acc = has_weight ? partial.data() + c * 2 * d : nullptr;
                float* db_acc = has_bias ? partial.data() + c * 2 * d + d : nullptr;
                for (int64_t r = c * rows / chunks; r < (c + 1) * rows / chunks; ++r)
                    norm_backward_row(px + r * d, pg + r * d, pdx + r * d, d, stats[r], pw, centered,
                                      dw_acc, db_acc);
            });
            Tensor dw, db;
            if (has_weight) dw = Tensor::zeros({d});
            if (has_bias) db = Tensor::zeros({d});
            for (int64_t c = 0; c < chunks; ++c)
                for (int64_t i = 0; i < d; ++i) {
                    if (has_weight) dw.data()[i] += partial[c * 2 * d + i];
                    if (has_bias) db.data()[i] += partial[c * 2 * d + d + i];
                }
            return std::vector<Tensor>{dx, dw, db};
        });
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    const ProfileScope op_scope("layer_norm");
    return normalize("layer_norm", true, x, weight, bias, eps);
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) {
    const ProfileScope op_scope("rms_norm");
    return normalize("rms_norm", false, x, weight, Tensor(), eps);
}

}  // namespace attend
