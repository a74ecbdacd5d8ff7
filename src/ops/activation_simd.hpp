// ops/activation_simd.hpp — GELU (exact and tanh), sigmoid and SiLU on 16-float vectors,
// forward and backward side by side, and the row loops that apply them. activation.cpp compiles
// the loops as target clones; tests compile the same header under each target to check them all.
// Internal to src/ops.
//
// Accuracy (tests/test_activation_simd.cpp sweeps every clone against double precision over
// [−10, 10] and ±1e-30 … ±31): worst forward error 5.7 ulp (gelu), 2.3 (gelu tanh), 2.0 (silu,
// sigmoid); derivatives within a few ulp of their larger term (they cross 0, where a relative
// error means little). Results below ~1e-37 may be flushed to 0 (exp16). Three things need care:
//  * 1 + erf(x/√2) and 1 + tanh(u) cancel for x ≪ 0 (torch computes them so: its GELU there
//    is off by up to ulp(1)·|x|/2 absolute). We use erfc and the logistic form instead,
//      Φ(x) = ½ erfc(−x/√2),     ½ (1 + tanh u) = σ(2u) = 1 / (1 + e^(−2u)),
//    which keep full relative precision as Φ and σ go to 0.
//  * e^(−x²/2) amplifies the rounding of x²/2 (≈ 4e-6 relative at x = −13): x² is formed
//    exactly as a float pair (ops/simd.hpp, hi12, exp16(hi, lo)).
//  * likewise e^(−2u) for the tanh form, whose exponent −2u is formed in double.
//
// Edge values follow torch: ±∞ and NaN propagate as the formulas make them (gelu(−∞) = NaN,
// gelu(+∞) = +∞, gradients at ±∞ NaN), and overflow inside (x³, e^(−2u)) gives the limit.
#pragma once
#include "ops/simd.hpp"

namespace attend::activation_simd {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;
constexpr float kKappa = 0.044715f;

// ---- the normal distribution: Φ(x) and φ(x) -------------------------------------------------
//
// With z = |x|/√2:
//   z < ½:  erf(z) = z · P(z²),   P of degree 4      (relative error of the fit 1.4e-9)
//   z ≥ ½:  erfc(z) = e^(−z²) · w · Q(w),  w = 1 / (1 + z/2),  Q of degree 9   (2.6e-9)
// and Φ(x) = ½ ± ½ erf(z) near 0, ½ erfc(z) for x < 0, 1 − ½ erfc(z) for x > 0. erfc(z) e^(z²)
// decreases smoothly from 1 to ~1/(z√π); w maps z ∈ [0, ∞) onto (0, 1], where Q has no
// singularity, so one polynomial covers the whole tail. Coefficients: least squares on
// Chebyshev-spaced points, reweighted to equalise the relative error (Lawson), against
// mpmath at 30 digits; the degrees are the smallest with fit error well under ½ ulp.
// |x| is clamped at 20 first: there Φ is already 0 or 1 in float, and x² stays finite.

// e^(−x²/2), x² split exactly: x = h + t, h = hi12(x), x² = h² + t (x + h), h² exact.
ATTEND_VECTOR_INLINE f32x16 exp_neg_half_square(const f32x16& x) {
    const f32x16 h = hi12(x);
    return exp16(-0.5f * (h * h), -0.5f * ((x - h) * (x + h)));
}

struct Normal {
    f32x16 cdf;  // Φ(x)
    f32x16 pdf;  // φ(x) = e^(−x²/2) / √(2π), only when asked for (the backward)
};

template <bool kWithPdf>
ATTEND_VECTOR_INLINE Normal normal16(const f32x16& x) {
    f32x16 a = abs16(x);
    a = a > 20.f ? splat16(20.f) : a;  // written so that NaN stays NaN
    const f32x16 z = a * kInvSqrt2;

    const f32x16 z2 = z * z;  // erf near 0
    f32x16 p = splat16(0.00471809542199364f);
    p = p * z2 - 0.026757233971353333f;
    p = p * z2 + 0.11282823534220594f;
    p = p * z2 - 0.3761260860607581f;
    p = p * z2 + 1.1283791655696587f;
    const f32x16 half_erf = 0.5f * (z * p);

    const f32x16 w = 1.f / (1.f + 0.5f * z);  // erfc in the tail
    f32x16 q = splat16(-0.030768589734866167f);
    q = q * w + 0.068685433197327f;
    q = q * w + 0.05940779302473169f;
    q = q * w - 0.2679027779902168f;
    q = q * w + 0.1494273155236592f;
    q = q * w + 0.019761431912172823f;
    q = q * w + 0.1926698405492757f;
    q = q * w + 0.24428901172248704f;
    q = q * w + 0.28231541775607344f;
    q = q * w + 0.2820866182881077f;
    const f32x16 gauss = exp_neg_half_square(a);  // e^(−z²) = e^(−x²/2)
    const f32x16 half_erfc = 0.5f * (gauss * (w * q));

    const i32x16 near0 = z < 0.5f, negative = x < 0.f;
    const f32x16 lower = near0 ? 0.5f - half_erf : half_erfc;  // Φ(−|x|)
    const f32x16 upper = near0 ? 0.5f + half_erf : 1.f - half_erfc;
    Normal out{negative ? lower : upper, f32x16{}};
    if constexpr (kWithPdf) out.pdf = gauss * kInvSqrt2Pi;  // the clamp only matters where φ = 0
    return out;
}

// ---- GELU, exact ----------------------------------------------------------------------------
//   y = x Φ(x),   dy/dx = Φ(x) + x φ(x)
struct GeluErf {
    static ATTEND_VECTOR_INLINE f32x16 forward(const f32x16& x) { return x * normal16<false>(x).cdf; }
    static ATTEND_VECTOR_INLINE f32x16 derivative(const f32x16& x) {
        const Normal n = normal16<true>(x);
        return n.cdf + x * n.pdf;
    }
};

// ---- the logistic function, for the tanh GELU and SiLU --------------------------------------
//   σ(v) = 1 / (1 + e), e = e^(−v);   1 − σ(v) = e σ(v)   (exact in the tail where 1 − σ cancels)
// e = +∞ (v < −88.7) gives σ = 0 and 1 − σ = 1, not ∞ · 0.
ATTEND_VECTOR_INLINE f32x16 one_minus_sigmoid(const f32x16& e, const f32x16& s) {
    return e < __builtin_huge_valf() ? e * s : splat16(1.f);
}

// ---- GELU, tanh approximation (torch's approximate='tanh') ----------------------------------
//   u = √(2/π) (x + κ x³),   y = ½ x (1 + tanh u) = x σ(2u) = x / (1 + e^(−2u))
//   dy/dx = σ(2u) + 2 x σ(2u) (1 − σ(2u)) · u′,   u′ = √(2/π) (1 + 3κ x²)
// e^(−2u) turns an absolute error in −2u into a relative one, and −2u reaches 88 at x ≈ −10:
// rounded to float it would cost up to ulp(88)/2 ≈ 4e-6 (≈ 60 ulp of y). So −2u is formed in
// double (the exact decimal κ, x³ cannot overflow there) and handed to exp16 as a float pair.
struct GeluTanh {
    typedef double f64x16 __attribute__((vector_size(128)));
    static ATTEND_VECTOR_INLINE f32x16 exp_minus_2u(const f32x16& x) {
        const f64x16 xd = __builtin_convertvector(x, f64x16);
        const f64x16 v = (-2.0 * 0.79788456080286535588) * (xd + 0.044715 * (xd * xd * xd));
        const f32x16 hi = __builtin_convertvector(v, f32x16);
        f32x16 lo = __builtin_convertvector(v - __builtin_convertvector(hi, f64x16), f32x16);
        lo = abs16(hi) < __builtin_huge_valf() ? lo : f32x16{};  // hi = ±∞: v − hi would be ∓∞
        return exp16(hi, lo);
    }
    static ATTEND_VECTOR_INLINE f32x16 forward(const f32x16& x) { return x / (1.f + exp_minus_2u(x)); }
    static ATTEND_VECTOR_INLINE f32x16 derivative(const f32x16& x) {
        const f32x16 e = exp_minus_2u(x);
        const f32x16 s = 1.f / (1.f + e);
        const f32x16 du = kSqrt2OverPi * (1.f + (3.f * kKappa) * (x * x));
        return s + 2.f * x * s * one_minus_sigmoid(e, s) * du;
    }
};

// ---- sigmoid ---------------------------------------------------------------------------------
//   y = σ(x),   dy/dx = σ(x) (1 − σ(x))
struct Sigmoid {
    static ATTEND_VECTOR_INLINE f32x16 forward(const f32x16& x) { return 1.f / (1.f + exp16(-x)); }
    static ATTEND_VECTOR_INLINE f32x16 derivative(const f32x16& x) {
        const f32x16 e = exp16(-x);
        const f32x16 s = 1.f / (1.f + e);
        return s * one_minus_sigmoid(e, s);
    }
};

// ---- SiLU (the gate of Llama's SwiGLU) -------------------------------------------------------
//   y = x σ(x) = x / (1 + e^(−x)),   dy/dx = σ(x) (1 + x (1 − σ(x)))
struct Silu {
    static ATTEND_VECTOR_INLINE f32x16 forward(const f32x16& x) { return x / (1.f + exp16(-x)); }
    static ATTEND_VECTOR_INLINE f32x16 derivative(const f32x16& x) {
        const f32x16 e = exp16(-x);
        const f32x16 s = 1.f / (1.f + e);
        return s * (1.f + x * one_minus_sigmoid(e, s));
    }
};

// ---- row loops -------------------------------------------------------------------------------
// y = f(x) over n floats; the tail is padded with zeros (f(0) is finite for every f here).
template <class F>
ATTEND_VECTOR_INLINE void forward_row(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) store16(y + i, F::forward(load16(x + i)));
    if (i < n) store16_partial(y + i, n - i, F::forward(load16_partial(x + i, n - i, 0.f)));
}

// dx = dy · f′(x) over n floats.
template <class F>
ATTEND_VECTOR_INLINE void backward_row(const float* x, const float* dy, float* dx, int64_t n) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) store16(dx + i, load16(dy + i) * F::derivative(load16(x + i)));
    if (i < n) {
        const int64_t m = n - i;
        store16_partial(dx + i, m, load16_partial(dy + i, m, 0.f) * F::derivative(load16_partial(x + i, m, 0.f)));
    }
}

}  // namespace attend::activation_simd
