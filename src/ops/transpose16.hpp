// ops/transpose16.hpp — a 16 × 16 block of floats transposed in AVX-512 registers, private:
// the one register transpose of the f32 GEMM's packing (ops/f32_gemm.cpp) and the loaders'
// transpose (ops/transpose.cpp). Call it only where the CPU has AVX-512F (f32_gemm_available()).
#pragma once
#include <immintrin.h>

namespace attend {

// r[i] (row i of a 16 × 16 block) → r[j] = column j. Pairs of rows, quads, then 128-bit lanes.
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) inline void transpose16(__m512 (&r)[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_castps_si512(_mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]));
        t[2 * i + 1] = _mm512_castps_si512(_mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]));
    }
    for (int i = 0; i < 4; ++i) {  // rows 4i .. 4i + 3
        u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);      // columns 0, 4, 8, 12
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);      // 1, 5, 9, 13
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);  // 2, 6, 10, 14
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);  // 3, 7, 11, 15
    }
    for (int s = 0; s < 4; ++s) {  // u[s + 4i]: columns s + 4L (128-bit lane L) of rows 4i .. 4i + 3
        const __m512i a0 = _mm512_shuffle_i32x4(u[s], u[s + 4], 0x88);
        const __m512i a1 = _mm512_shuffle_i32x4(u[s], u[s + 4], 0xdd);
        const __m512i b0 = _mm512_shuffle_i32x4(u[s + 8], u[s + 12], 0x88);
        const __m512i b1 = _mm512_shuffle_i32x4(u[s + 8], u[s + 12], 0xdd);
        r[s + 0] = _mm512_castsi512_ps(_mm512_shuffle_i32x4(a0, b0, 0x88));
        r[s + 4] = _mm512_castsi512_ps(_mm512_shuffle_i32x4(a1, b1, 0x88));
        r[s + 8] = _mm512_castsi512_ps(_mm512_shuffle_i32x4(a0, b0, 0xdd));
        r[s + 12] = _mm512_castsi512_ps(_mm512_shuffle_i32x4(a1, b1, 0xdd));
    }
}

}  // namespace attend
