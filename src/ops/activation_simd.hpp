// ops/activation_simd.hpp — GELU (exact and tanh), sigmoid and SiLU on GCC float vectors of
// 16 or 8 lanes (V), forward and backward side by side, and the row loops that apply them.
// activation.cpp compiles the loops on 16 floats as target clones and on 8 floats for AVX2 +
// FMA (ops/simd.hpp says why); tests compile the same header under each target to check them all.
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
#include <immintrin.h>

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
template <class V>
ATTEND_VECTOR_INLINE V exp_neg_half_square(const V& x) {
    const V h = hi12(x);
    return exp_v(-0.5f * (h * h), -0.5f * ((x - h) * (x + h)));
}

template <class V>
struct Normal {
    V cdf;  // Φ(x)
    V pdf;  // φ(x) = e^(−x²/2) / √(2π), only when asked for (the backward)
};

template <bool kWithPdf, class V>
ATTEND_VECTOR_INLINE Normal<V> normal(const V& x) {
    using I = typename int_vector<V>::type;
    V a = abs_v(x);
    a = a > 20.f ? splat_v<V>(20.f) : a;  // written so that NaN stays NaN
    const V z = a * kInvSqrt2;

    const V z2 = z * z;  // erf near 0
    V p = splat_v<V>(0.00471809542199364f);
    p = p * z2 - 0.026757233971353333f;
    p = p * z2 + 0.11282823534220594f;
    p = p * z2 - 0.3761260860607581f;
    p = p * z2 + 1.1283791655696587f;
    const V half_erf = 0.5f * (z * p);

    const V w = 1.f / (1.f + 0.5f * z);  // erfc in the tail
    V q = splat_v<V>(-0.030768589734866167f);
    q = q * w + 0.068685433197327f;
    q = q * w + 0.05940779302473169f;
    q = q * w - 0.2679027779902168f;
    q = q * w + 0.1494273155236592f;
    q = q * w + 0.019761431912172823f;
    q = q * w + 0.1926698405492757f;
    q = q * w + 0.24428901172248704f;
    q = q * w + 0.28231541775607344f;
    q = q * w + 0.2820866182881077f;
    const V gauss = exp_neg_half_square(a);  // e^(−z²) = e^(−x²/2)
    const V half_erfc = 0.5f * (gauss * (w * q));

    const I near0 = z < 0.5f, negative = x < 0.f;
    const V lower = near0 ? 0.5f - half_erf : half_erfc;  // Φ(−|x|)
    const V upper = near0 ? 0.5f + half_erf : 1.f - half_erfc;
    Normal<V> out{negative ? lower : upper, V{}};
    if constexpr (kWithPdf) out.pdf = gauss * kInvSqrt2Pi;  // the clamp only matters where φ = 0
    return out;
}

// ---- GELU, exact ----------------------------------------------------------------------------
//   y = x Φ(x),   dy/dx = Φ(x) + x φ(x)
struct GeluErf {
    template <class V> static ATTEND_VECTOR_INLINE V forward(const V& x) { return x * normal<false>(x).cdf; }
    template <class V> static ATTEND_VECTOR_INLINE V derivative(const V& x) {
        const Normal<V> n = normal<true>(x);
        return n.cdf + x * n.pdf;
    }
};

// ---- the logistic function, for the tanh GELU and SiLU --------------------------------------
//   σ(v) = 1 / (1 + e), e = e^(−v);   1 − σ(v) = e σ(v)   (exact in the tail where 1 − σ cancels)
// e = +∞ (v < −88.7) gives σ = 0 and 1 − σ = 1, not ∞ · 0.
template <class V>
ATTEND_VECTOR_INLINE V one_minus_sigmoid(const V& e, const V& s) {
    return e < __builtin_huge_valf() ? e * s : splat_v<V>(1.f);
}

// ---- GELU, tanh approximation (torch's approximate='tanh') ----------------------------------
//   u = √(2/π) (x + κ x³),   y = ½ x (1 + tanh u) = x σ(2u) = x / (1 + e^(−2u))
//   dy/dx = σ(2u) + 2 x σ(2u) (1 − σ(2u)) · u′,   u′ = √(2/π) (1 + 3κ x²)
// e^(−2u) turns an absolute error in −2u into a relative one, and −2u reaches 88 at x ≈ −10:
// rounded to float it would cost up to ulp(88)/2 ≈ 4e-6 (≈ 60 ulp of y). So −2u is formed in
// double (the exact decimal κ, x³ cannot overflow there) and handed to exp16 as a float pair.
// The double halves of a float vector: f32x16 → 2 × 8 doubles (two zmm), f32x8 → 2 × 4 (two
// ymm), so neither width builds a vector wider than its target's registers.
typedef float f32x4 __attribute__((vector_size(16)));
typedef double f64x4 __attribute__((vector_size(32)));
typedef double f64x8 __attribute__((vector_size(64)));
ATTEND_VECTOR_INLINE f64x8 low_doubles(const f32x16& x) {
    return __builtin_convertvector(__builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7), f64x8);
}
ATTEND_VECTOR_INLINE f64x8 high_doubles(const f32x16& x) {
    return __builtin_convertvector(__builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15), f64x8);
}
ATTEND_VECTOR_INLINE f32x16 floats(const f64x8& lo, const f64x8& hi) {
    const f32x8 a = __builtin_convertvector(lo, f32x8), b = __builtin_convertvector(hi, f32x8);
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
// On 8 floats, intrinsics: GCC 12 lowers __builtin_convertvector from 4 floats to 4 doubles
// as two conversions of 2 through the stack, which made the tanh GELU on AVX2 + FMA slower
// than the exact one. Only the AVX2 + FMA instance uses 8 floats (ops/simd.hpp).
ATTEND_AVX2_FMA inline f64x4 low_doubles(const f32x8& x) {
    return (f64x4)_mm256_cvtps_pd(_mm256_castps256_ps128((__m256)x));
}
ATTEND_AVX2_FMA inline f64x4 high_doubles(const f32x8& x) {
    return (f64x4)_mm256_cvtps_pd(_mm256_extractf128_ps((__m256)x, 1));
}
ATTEND_AVX2_FMA inline f32x8 floats(const f64x4& lo, const f64x4& hi) {
    return (f32x8)_mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps((__m256d)lo)),
                                       _mm256_cvtpd_ps((__m256d)hi), 1);
}

struct GeluTanh {
    template <class V> static ATTEND_VECTOR_INLINE V exp_minus_2u(const V& x) {
        const auto minus_2u = [](const auto& xd) { return (-2.0 * 0.79788456080286535588) * (xd + 0.044715 * (xd * xd * xd)); };
        const auto v_lo = minus_2u(low_doubles(x)), v_hi = minus_2u(high_doubles(x));
        const V hi = floats(v_lo, v_hi);
        V lo = floats(v_lo - low_doubles(hi), v_hi - high_doubles(hi));
        lo = abs_v(hi) < __builtin_huge_valf() ? lo : V{};  // hi = ±∞: v − hi would be ∓∞
        return exp_v(hi, lo);
    }
    template <class V> static ATTEND_VECTOR_INLINE V forward(const V& x) { return x / (1.f + exp_minus_2u(x)); }
    template <class V> static ATTEND_VECTOR_INLINE V derivative(const V& x) {
        const V e = exp_minus_2u(x);
        const V s = 1.f / (1.f + e);
        const V du = kSqrt2OverPi * (1.f + (3.f * kKappa) * (x * x));
        return s + 2.f * x * s * one_minus_sigmoid(e, s) * du;
    }
};

// ---- sigmoid ---------------------------------------------------------------------------------
//   y = σ(x),   dy/dx = σ(x) (1 − σ(x))
struct Sigmoid {
    template <class V> static ATTEND_VECTOR_INLINE V forward(const V& x) { return 1.f / (1.f + exp_v(-x, V{})); }
    template <class V> static ATTEND_VECTOR_INLINE V derivative(const V& x) {
        const V e = exp_v(-x, V{});
        const V s = 1.f / (1.f + e);
        return s * one_minus_sigmoid(e, s);
    }
};

// ---- SiLU (the gate of Llama's SwiGLU) -------------------------------------------------------
//   y = x σ(x) = x / (1 + e^(−x)),   dy/dx = σ(x) (1 + x (1 − σ(x)))
struct Silu {
    template <class V> static ATTEND_VECTOR_INLINE V forward(const V& x) { return x / (1.f + exp_v(-x, V{})); }
    template <class V> static ATTEND_VECTOR_INLINE V derivative(const V& x) {
        const V e = exp_v(-x, V{});
        const V s = 1.f / (1.f + e);
        return s * (1.f + x * one_minus_sigmoid(e, s));
    }
};

// ---- row loops -------------------------------------------------------------------------------
// y = f(x) over n floats, V's lanes at a time; the tail is padded with zeros (f(0) is finite
// for every f here).
template <class F, class V = f32x16>
ATTEND_VECTOR_INLINE void forward_row(const float* x, float* y, int64_t n) {
    constexpr int64_t L = lanes_of<V>;
    int64_t i = 0;
    for (; i + L <= n; i += L) store_v(y + i, F::forward(load_v<V>(x + i)));
    if (i < n) store_partial_v(y + i, n - i, F::forward(load_partial_v<V>(x + i, n - i, 0.f)));
}

// dx = dy · f′(x) over n floats.
template <class F, class V = f32x16>
ATTEND_VECTOR_INLINE void backward_row(const float* x, const float* dy, float* dx, int64_t n) {
    constexpr int64_t L = lanes_of<V>;
    int64_t i = 0;
    for (; i + L <= n; i += L) store_v(dx + i, load_v<V>(dy + i) * F::derivative(load_v<V>(x + i)));
    if (i < n) {
        const int64_t m = n - i;
        store_partial_v(dx + i, m, load_partial_v<V>(dy + i, m, 0.f) * F::derivative(load_partial_v<V>(x + i, m, 0.f)));
    }
}

}  // namespace attend::activation_simd
