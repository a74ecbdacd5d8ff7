// ops/transpose.cpp — dst = srcᵀ (see ops/transpose.hpp).
//
// Tiled: a row-by-row gather of a transpose strides through memory on every element, and
// GPT-2 small transposes 85 M of them on load. A band of 32 output rows is swept over the
// source's rows 16 at a time; where the CPU has AVX-512 and the source's columns are
// contiguous, each 16 × 16 block goes through registers (ops/transpose16.hpp, the f32 GEMM's
// packing transpose), elsewhere (a strided column, the edges, other CPUs) element by element.
// GPT-2 small's 12 c_attn matrices (36 blocks of 768 × 768, row stride 2304), one thread, from
// and to warm memory, alternating in one process: 20.3 ms as 32 × 32 scalar tiles, 10.6 ms
// through registers. A load from a Hugging Face folder hardly shows it: there the page faults
// on the mapped file and on the fresh copies cost more than the copying (load 0.66–0.96 s
// either way).
#include "ops/transpose.hpp"

#include <immintrin.h>

#include <algorithm>

#include "core/parallel_loop.hpp"
#include "ops/f32_gemm.hpp"
#include "ops/transpose16.hpp"

namespace attend {

namespace {

constexpr int64_t kBlock = 16;  // floats per AVX-512 vector: the register block is kBlock × kBlock
constexpr int64_t kBand = 32;   // output rows per task

// Rows [r0, r1) of the band's output rows [c0, c1) (source columns c0 .. c1 − 1).
void transpose_elements(const float* src, int64_t R, int64_t rs, int64_t cs, float* dst, int64_t c0, int64_t c1,
                        int64_t r0, int64_t r1) {
    for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) dst[c * R + r] = src[r * rs + c * cs];
}

// GCC 12 warns that the intrinsics' own _mm512_undefined_* placeholders "may be used
// uninitialized" once they are inlined into a target function: a false report inside its headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Source rows [r0, r0 + 16) of source columns [c0, c0 + 16 · blocks), unit column stride.
// No standard-library call inside: an inline one instantiated here would be AVX-512 code.
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void transpose_blocks(
    const float* src, int64_t R, int64_t rs, float* dst, int64_t c0, int64_t blocks, int64_t r0) {
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t c = c0 + b * kBlock;
        __m512 r[kBlock];
        for (int i = 0; i < kBlock; ++i) r[i] = _mm512_loadu_ps(src + (r0 + i) * rs + c);
        transpose16(r);
        for (int i = 0; i < kBlock; ++i) _mm512_storeu_ps(dst + (c + i) * R + r0, r[i]);
    }
}

#pragma GCC diagnostic pop

// Output rows [c0, c1) of dst (C, R): source columns c0 .. c1 − 1, all R source rows.
void transpose_band(const float* src, int64_t R, int64_t rs, int64_t cs, float* dst, int64_t c0, int64_t c1) {
    const bool registers = cs == 1 && f32_gemm_available();  // f32_gemm_available: the CPU has AVX-512F
    for (int64_t r0 = 0; r0 < R; r0 += kBlock) {
        const int64_t r1 = std::min(R, r0 + kBlock);
        const int64_t blocks = registers && r1 - r0 == kBlock ? (c1 - c0) / kBlock : 0;
        if (blocks > 0) transpose_blocks(src, R, rs, dst, c0, blocks, r0);
        transpose_elements(src, R, rs, cs, dst, c0 + blocks * kBlock, c1, r0, r1);
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
