// ops/row_kernels.hpp — the passes over one row of floats that softmax, log-softmax,
// cross-entropy and the fused attention share: the max, Σ, a dot product, exp(x − shift) ·
// factor, and a scale. Internal to src/.
//
// Each is written once over a GCC vector type F (ops/simd.hpp): the templates, for kernels that
// inline them (attention's decoding rows kernel), and one call per pass that runs them on 16
// floats as target clones or on 8 floats with FMA on CPUs that have AVX2 but not AVX-512
// (cpu_prefers_avx2_kernels(); ops/simd.hpp says why: there the avx2 clone of a 16-float loop
// goes through the stack — 13× slower over GPT-2's 50,257 logits). Tails are padded with a
// value that does not change the result: −∞ for a max or an exp, 0 for a sum.
#pragma once
#include <cstdint>
#include <limits>

#include "ops/simd.hpp"

namespace attend {

template <class F>
ATTEND_VECTOR_INLINE float max_of_v(const float* x, int64_t n) {
    constexpr int64_t L = lanes_of<F>;
    F m = splat_v<F>(-std::numeric_limits<float>::infinity());
    int64_t j = 0;
    for (; j + L <= n; j += L) {
        const F v = load_v<F>(x + j);
        m = v > m ? v : m;
    }
    float result = horizontal_max(m);
    for (; j < n; ++j) result = x[j] > result ? x[j] : result;
    return result;
}

template <class F>
ATTEND_VECTOR_INLINE float sum_of_v(const float* x, int64_t n) {
    constexpr int64_t L = lanes_of<F>;
    F acc{};
    int64_t j = 0;
    for (; j + L <= n; j += L) acc += load_v<F>(x + j);
    if (j < n) acc += load_partial_v<F>(x + j, n - j, 0.f);
    return horizontal_sum(acc);
}

template <class F>
ATTEND_VECTOR_INLINE float dot_of_v(const float* a, const float* b, int64_t n) {
    constexpr int64_t L = lanes_of<F>;
    F acc{};
    int64_t j = 0;
    for (; j + L <= n; j += L) acc += load_v<F>(a + j) * load_v<F>(b + j);
    float s = horizontal_sum(acc);
    for (; j < n; ++j) s += a[j] * b[j];
    return s;
}

// y_j = exp(x_j − shift) · factor (y may be x, or null: nothing stored); returns Σ_j y_j.
template <class F>
ATTEND_VECTOR_INLINE float exp_shifted_v(const float* x, float* y, int64_t n, float shift, float factor) {
    constexpr int64_t L = lanes_of<F>;
    F sum{};
    int64_t j = 0;
    for (; j + L <= n; j += L) {
        const F e = exp_v<F>(load_v<F>(x + j) - shift, F{}) * factor;
        if (y) store_v(y + j, e);
        sum += e;
    }
    if (j < n) {
        const F e = exp_v<F>(load_partial_v<F>(x + j, n - j, -std::numeric_limits<float>::infinity()) - shift, F{}) *
                    factor;
        if (y) store_partial_v(y + j, n - j, e);
        sum += e;
    }
    return horizontal_sum(sum);
}

template <class F>
ATTEND_VECTOR_INLINE void scale_row_v(float* x, int64_t n, float s) {
    constexpr int64_t L = lanes_of<F>;
    int64_t j = 0;
    for (; j + L <= n; j += L) store_v(x + j, load_v<F>(x + j) * s);
    for (; j < n; ++j) x[j] *= s;
}

// The passes, each on the CPU's kernels (src/ops/row_kernels.cpp).
float max_of(const float* x, int64_t n);
float sum_of(const float* x, int64_t n);
float dot_of(const float* a, const float* b, int64_t n);
float exp_shifted(const float* x, float* y, int64_t n, float shift, float factor);
void scale_row(float* x, int64_t n, float s);

}  // namespace attend
