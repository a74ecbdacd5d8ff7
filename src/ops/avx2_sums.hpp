// ops/avx2_sums.hpp — the horizontal sums the AVX2 decoding kernels (ops/gemv_dot_avx2.cpp,
// ops/gemv_f32_avx2.cpp) end each output with. Compiled for AVX2 by their own attribute, so
// they inline into their kernels and nothing else needs AVX2 to include them.
#pragma once
#include <immintrin.h>

namespace attend::avx2 {

// Σ of the 8 lanes of v as a tree of halves.
__attribute__((target("avx2"))) inline float sum_of_lanes(__m256 v) {
    const __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

// Σ of the lanes of 4 accumulators: (a₀ + a₁) + (a₂ + a₃), then its lanes.
__attribute__((target("avx2"))) inline float sum_of_4(const __m256 (&acc)[4]) {
    return sum_of_lanes(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

// Σ of the lanes of 2 accumulators: a₀ + a₁, then its lanes.
__attribute__((target("avx2"))) inline float sum_of_2(const __m256 (&acc)[2]) {
    return sum_of_lanes(_mm256_add_ps(acc[0], acc[1]));
}

}  // namespace attend::avx2
