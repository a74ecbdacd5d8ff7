// ops/gemv_dot.hpp — decoding products on the CPU's low-precision dot-product instructions,
// private to ops/gemv.cpp.
//
// Widening bf16 or int8 weights to fp32 in registers (ops/gemv.cpp's portable kernel) costs
// more instructions than the multiply-adds themselves, so low-precision decoding was bound by
// arithmetic, not by the bytes it saved. With the activations brought to the weights'
// precision, one instruction does the products of a whole 64-byte line of weights:
//
//   bf16  vdpbf16ps (AVX512-BF16): x rounded to bf16 once per call, then per 32 columns
//         acc (16 × f32) += x[2l]·w[2l] + x[2l+1]·w[2l+1] — the weights are never widened.
//   int8  vpdpbusd (AVX512-VNNI): x quantised per block of 32 columns like the weights
//         (llama.cpp's Q8_0 × Q8_0): sx = max|x|/127, qx = round(x/sx). vpdpbusd multiplies
//         unsigned by signed bytes and sums each 4 products into a 32-bit lane, so the kernel
//         feeds the weights shifted to unsigned, qw + 128 (one XOR of the sign bit per 64
//         weights), and starts each lane at the shift's share, −128 · Σ of its 4 qx, made
//         once per call: Σ (qw + 128)·qx − 128·Σ qx = Σ qw·qx, exact in 32 bits. Per block:
//         y += (sx·sw) · Σ qx·qw. (It fed |qx| with x's sign moved onto the weights before:
//         a mask load and a masked negation per 64 weights; int8 decoding read 32–36 GB/s
//         where bf16 read 43–47.)
//
// On CPUs with AVX2 and FMA but not those AVX-512 instructions, ops/gemv_dot_avx2.cpp does
// the same work on what AVX2 has (int8: vpmaddubsw; bf16: the weights widened by a shift or a
// mask, against x split into even and odd columns, x kept in fp32).
//
// Each output is the same sequence of operations whatever the other rows of x, the block
// shape or the thread split (as in gemv.cpp), so a sequence's tokens do not depend on what
// else is in the batch. Rounding x costs accuracy the tests bound (tests/test_gemv.cpp,
// tests/test_low_precision.cpp): bf16 like the bf16 GEMM used for prefill (ops/bf16_gemm.cpp), int8 as
// llama.cpp's q8_0 does.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/gemv_row_order.hpp"

namespace attend {

class LowPrecisionMatrix;

// x (M, K) in the form the kernel reads, made once per call and shared by the threads.
struct DotActivations {
    int64_t M = 0, K = 0, chunks = 0;  // chunks: of 64 bytes of weights (32 bf16 or 64 int8 columns)
    std::vector<uint16_t> bf16;        // (M, chunks·32) x rounded, zero-padded
    std::vector<int8_t> int8;          // (M, chunks·64) qx, zero-padded
    std::vector<int32_t> shift_sums;   // (M, chunks·16) lane l of chunk c: −128 · Σ qx[64c + 4l + 0..3] (VNNI only)
    std::vector<float> scales;         // (M, scale_stride()) sx per block of 32 columns, 0 past K
    std::vector<float> f32_pairs;      // (M, chunks·32) x per 16 columns: its 8 even, then its 8 odd; 0 past K (AVX2 bf16 only)

    // Blocks per row of `scales`, padded to a multiple of 4 (the kernel loads 4 at a time).
    int64_t scale_stride() const { return (2 * chunks + 3) / 4 * 4; }
};

// Whether this CPU has a dot-product kernel for `W`'s type (bf16: AVX512-BF16; int8:
// AVX512-VNNI; either, where it lacks those: AVX2 with FMA, ops/gemv_dot_avx2.cpp).
bool has_dot_products(const LowPrecisionMatrix& W);
// Whether it has vdpbf16ps (AVX512-BF16 with AVX512-BW): the bf16 GEMV, the bf16 GEMM
// (ops/bf16_gemm.cpp) and bf16 mixed precision (attend/matmul_precision.hpp) all ask this.
bool cpu_has_bf16_dot();

// Fills `a` for W's type from x (M, K); reuses a's buffers.
void prepare_dot_activations(int64_t M, int64_t K, const float* x, const LowPrecisionMatrix& W, DotActivations& a);

// y[m, n] = Σ_k x[m, k] · W[n, k] (+ bias[n]) for rows [n0, n1) of W; y is (M, N) row-major.
// `alone`: this thread is the only one reading W (see RowOrder). Call only where
// has_dot_products(W).
void dot_rows(const DotActivations& a, const LowPrecisionMatrix& W, int64_t n0, int64_t n1, const float* bias,
              float* y, bool alone);

// AVX2 with FMA (ops/gemv_dot_avx2.cpp), for CPUs without AVX512-VNNI / AVX512-BF16. int8
// takes the activations without shift_sums (the kernel takes qx as it is); bf16 takes
// f32_pairs instead of x rounded.
bool cpu_has_avx2_fma();
void prepare_int8_avx2(int64_t M, int64_t K, const float* x, DotActivations& a);
void int8_rows_avx2(const DotActivations& a, const LowPrecisionMatrix& W, int64_t n0, int64_t n1, const float* bias,
                    float* y, bool alone);
void prepare_bf16_avx2(int64_t M, int64_t K, const float* x, DotActivations& a);
void bf16_rows_avx2(const DotActivations& a, const LowPrecisionMatrix& W, int64_t n0, int64_t n1, const float* bias,
                    float* y);

}  // namespace attend
