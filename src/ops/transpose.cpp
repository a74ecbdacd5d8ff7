// ops/transpose.cpp — dst = srcᵀ (see ops/transpose.hpp).
//
// Tiled: a row-by-row gather of a transpose strides through memory on every element, and
// GPT-2 small transposes 85 M of them on load. A band of 32 output rows is swept over the
// source's rows 16 at a time; where the source's columns are contiguous each 16 × 16 block
// goes through registers (below), elsewhere (a strided column, the edges) element by element.
// GPT-2 small's 12 c_attn matrices (36 blocks of 768 × 768, row stride 2304), one thread, from
// and to warm memory, alternating in one process: 20.3 ms as 32 × 32 scalar tiles, 10.6 ms
// so. A load from a Hugging Face folder hardly shows it: there the page faults on the mapped
// file and on the fresh copies cost more than the copying (load 0.66–0.96 s either way).
#include "ops/transpose.hpp"

#include <algorithm>

#include "core/parallel_loop.hpp"
#include "ops/simd.hpp"

namespace attend {

namespace {

constexpr int64_t kBlock = 16;  // floats per vector: the register block is kBlock × kBlock
constexpr int64_t kBand = 32;   // output rows per task

// The 16 rows a[0..15] (a 16 × 16 block) become its transpose, in four butterfly stages. Row
// index i and column index c each have 4 bits; stage d (d = 1, 2, 4, 8) swaps bit d of the one
// with bit d of the other: for rows i and j = i + d (bit d of i clear), element (i, c | d)
// trades places with (j, c) for every c with bit d clear. After all four, (r, c) sits at (c, r).
ATTEND_VECTOR_INLINE void transpose_16x16(f32x16 (&a)[kBlock]) {
    for (int i = 0; i < kBlock; i += 2) {  // d = 1
        const f32x16 lo = __builtin_shufflevector(a[i], a[i + 1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
        const f32x16 hi = __builtin_shufflevector(a[i], a[i + 1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
        a[i] = lo, a[i + 1] = hi;
    }
    for (int i = 0; i < kBlock; i += 4)  // d = 2
        for (int k = i; k < i + 2; ++k) {
            const f32x16 lo = __builtin_shufflevector(a[k], a[k + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
            const f32x16 hi = __builtin_shufflevector(a[k], a[k + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
            a[k] = lo, a[k + 2] = hi;
        }
    for (int i = 0; i < kBlock; i += 8)  // d = 4
        for (int k = i; k < i + 4; ++k) {
            const f32x16 lo = __builtin_shufflevector(a[k], a[k + 4], 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
            const f32x16 hi = __builtin_shufflevector(a[k], a[k + 4], 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
            a[k] = lo, a[k + 4] = hi;
        }
    for (int k = 0; k < 8; ++k) {  // d = 8
        const f32x16 lo = __builtin_shufflevector(a[k], a[k + 8], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        const f32x16 hi = __builtin_shufflevector(a[k], a[k + 8], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
        a[k] = lo, a[k + 8] = hi;
    }
}

// Output rows [c0, c1) of dst (C, R): source columns c0 .. c1 − 1, all R source rows.
ATTEND_SIMD_CLONES void transpose_band(const float* src, int64_t R, int64_t rs, int64_t cs, float* dst, int64_t c0,
                                       int64_t c1) {
    for (int64_t r0 = 0; r0 < R; r0 += kBlock) {
        const int64_t r1 = std::min(R, r0 + kBlock);
        int64_t c = c0;
        if (cs == 1 && r1 - r0 == kBlock)
            for (; c + kBlock <= c1; c += kBlock) {
                f32x16 a[kBlock];
                for (int i = 0; i < kBlock; ++i) a[i] = load16(src + (r0 + i) * rs + c);
                transpose_16x16(a);
                for (int i = 0; i < kBlock; ++i) store16(dst + (c + i) * R + r0, a[i]);
            }
        for (; c < c1; ++c)
            for (int64_t r = r0; r < r1; ++r) dst[c * R + r] = src[r * rs + c * cs];
    }
}

}  // namespace

void transpose_into(const float* src, int64_t R, int64_t C, int64_t row_stride, int64_t col_stride, float* dst) {
    const int64_t bands = (C + kBand - 1) / kBand;
    parallel_loop(bands, R * C, [&](int64_t band) {
        transpose_band(src, R, row_stride, col_stride, dst, band * kBand, std::min(C, (band + 1) * kBand));
    });
}

}  // namespace attend
