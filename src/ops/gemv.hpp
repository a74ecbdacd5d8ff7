// ops/gemv.hpp — the linear layer's product for a few rows (decoding), private.
//
//   y (M, N) = x (M, K) · Wᵀ + b,   W (N, K) row-major (nn.Linear's layout), M small
//
// With one token per sequence a decoder's every product is this shape, and its cost is
// reading W once: 4·N·K bytes for 2·M·N·K flops. BLAS GEMMs are built for reuse, not for
// streaming (oneDNN's reads GPT-2's weights at a third of one core's bandwidth), so this
// kernel walks W's rows once, front to back, with every row of x applied to each weight
// vector while it is in registers, and splits the rows of W over the threads.
#pragma once
#include <cstdint>
#include <span>

namespace attend {

class LowPrecisionMatrix;
class ShareBalance;

// Whether skinny_gemm is the better product for (M, N, K): few rows of x (M ≤ kMaxSkinnyRows).
constexpr int64_t kMaxSkinnyRows = 8;
bool use_skinny_gemm(int64_t M, int64_t N, int64_t K);

// y (M, N) = x (M, K) · Wᵀ (+ bias (N) when not null). x, W, y contiguous row-major.
// Threads over N when the weights are worth it (parallel.hpp's rule) — on a decoding step's
// team inside one (core/parallel_loop.hpp); another call from inside a parallel region runs on
// the calling thread.
void skinny_gemm(int64_t M, int64_t N, int64_t K, const float* x, const float* W, const float* bias, float* y);

// How the row-split skinny products share W's rows between threads (core/share_balance.hpp):
// one balance for all of them, as it measures the threads, not W. Tests skew it.
ShareBalance& skinny_balance();

// The same with W given input-major, as A = Wᵀ (K, N) whose rows lie lda ≥ N floats apart:
// GPT-2's Conv1D weights where its checkpoint stores them (a view of the mapped file, see
// io/hf_names.cpp). Each output's sum runs in another order than skinny_gemm's (by inputs,
// four at a time, over each thread's share of them), the same for every M.
void skinny_gemm_input_major(int64_t M, int64_t N, int64_t K, const float* x, const float* A, int64_t lda,
                             const float* bias, float* y);

// The same with W (N, K) in bf16 or int8: on the CPU's bf16 / int8 dot products where it has
// them and `dot_products` allows (x then rounded to W's precision, ops/gemv_dot.hpp), else
// widened in registers (exact products; tests ask for this path on any CPU).
void skinny_gemm(int64_t M, const float* x, const LowPrecisionMatrix& W, const float* bias, float* y,
                 bool dot_products = true);

// One product of several that share x (a layer's q, k and v projections; a gated MLP's gate
// and up): y (M, W.rows()) = x · Wᵀ (+ bias when not null).
struct SharedInputProduct {
    const LowPrecisionMatrix* W;
    const float* bias;
    float* y;
};

// Whether skinny_gemm_shared_input takes these: two or more, every W of one type with dot
// products (has_dot_products) and x's width K, and few rows of x (use_skinny_gemm).
bool fits_shared_input(int64_t M, int64_t K, std::span<const SharedInputProduct> products);

// Each product as skinny_gemm(M, x, *W, bias, y) computes it, bit for bit, but x is prepared
// once and one parallel region splits all the W's rows, as if they were one matrix: per token
// of GPT-2 small in int8, 24 fewer regions and preparations, and each thread reads one run of
// rows instead of a short run of each (the 73 products of a token, cold: 5.98 → 5.51 ms at one
// thread, 3.42 → 2.98 at two with q, k and v as one matrix; bf16 the same ±2%: its matrices
// are twice the bytes). Call only where fits_shared_input.
void skinny_gemm_shared_input(int64_t M, const float* x, std::span<const SharedInputProduct> products);

// y (M, N) = x · Wᵀ (+ bias) with W in bf16 or int8, for many rows, on the CPU's bf16 dot
// products (ops/bf16_gemm.cpp; x rounded to bf16): false — nothing written — when the CPU has
// none (AVX512-BF16).
bool bf16_gemm(int64_t M, const float* x, const LowPrecisionMatrix& W, const float* bias, float* y);

// The same on any CPU, exact products: W widened to fp32 in blocks of rows, each block through
// the fp32 GEMM (ops/matmul.cpp). linear()'s many-row product where bf16_gemm declines.
void widened_gemm(int64_t M, const float* x, const LowPrecisionMatrix& W, const float* bias, float* y);

}  // namespace attend
