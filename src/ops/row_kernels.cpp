// ops/row_kernels.cpp — each row pass of ops/row_kernels.hpp on 16 floats as target clones and
// on 8 floats for AVX2 + FMA, and the call that picks one.
#include "ops/row_kernels.hpp"

namespace attend {

namespace {

ATTEND_SIMD_CLONES float max_of_16(const float* x, int64_t n) { return max_of_v<f32x16>(x, n); }
ATTEND_AVX2_FMA float max_of_8(const float* x, int64_t n) { return max_of_v<f32x8>(x, n); }

ATTEND_SIMD_CLONES float sum_of_16(const float* x, int64_t n) { return sum_of_v<f32x16>(x, n); }
ATTEND_AVX2_FMA float sum_of_8(const float* x, int64_t n) { return sum_of_v<f32x8>(x, n); }

ATTEND_SIMD_CLONES float dot_of_16(const float* a, const float* b, int64_t n) { return dot_of_v<f32x16>(a, b, n); }
ATTEND_AVX2_FMA float dot_of_8(const float* a, const float* b, int64_t n) { return dot_of_v<f32x8>(a, b, n); }

ATTEND_SIMD_CLONES float exp_shifted_16(const float* x, float* y, int64_t n, float shift, float factor) {
    return exp_shifted_v<f32x16>(x, y, n, shift, factor);
}
ATTEND_AVX2_FMA float exp_shifted_8(const float* x, float* y, int64_t n, float shift, float factor) {
    return exp_shifted_v<f32x8>(x, y, n, shift, factor);
}

ATTEND_SIMD_CLONES void scale_row_16(float* x, int64_t n, float s) { scale_row_v<f32x16>(x, n, s); }
ATTEND_AVX2_FMA void scale_row_8(float* x, int64_t n, float s) { scale_row_v<f32x8>(x, n, s); }

}  // namespace

float max_of(const float* x, int64_t n) { return cpu_prefers_avx2_kernels() ? max_of_8(x, n) : max_of_16(x, n); }

float sum_of(const float* x, int64_t n) { return cpu_prefers_avx2_kernels() ? sum_of_8(x, n) : sum_of_16(x, n); }

float dot_of(const float* a, const float* b, int64_t n) {
    return cpu_prefers_avx2_kernels() ? dot_of_8(a, b, n) : dot_of_16(a, b, n);
}

float exp_shifted(const float* x, float* y, int64_t n, float shift, float factor) {
    return cpu_prefers_avx2_kernels() ? exp_shifted_8(x, y, n, shift, factor) : exp_shifted_16(x, y, n, shift, factor);
}

void scale_row(float* x, int64_t n, float s) { cpu_prefers_avx2_kernels() ? scale_row_8(x, n, s) : scale_row_16(x, n, s); }

}  // namespace attend
