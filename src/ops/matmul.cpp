// ops/matmul.cpp — batched matrix product and the linear layer, forward and backward.
//
//   C = A · B            dA = dC · Bᵀ,  dB = Aᵀ · dC      (summed over broadcast batch dims)
//   y = x · Wᵀ + b       dx = dy · W,   dW = dyᵀ · x,   db = Σ_rows dy
//
// linear()'s three products run in bf16 mixed precision under MatmulPrecision::bf16
// (attend/matmul_precision.hpp), fixed at the forward for its backward.
#include <array>
#include <omp.h>

#include <algorithm>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/matmul_precision.hpp"
#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "ops/gemm.hpp"
#include "ops/gemv.hpp"

namespace attend {

namespace {

// A matrix operand as the GEMM sees it: row-major with leading dimension ld, or its
// transpose (a transposed view costs nothing).
struct GemmOperand {
    Tensor t;         // possibly a copy made contiguous
    bool transposed;  // data holds Xᵀ row-major
    int64_t ld;
};

GemmOperand as_gemm_operand(const Tensor& x) {
    const int64_t r = x.size(-2), c = x.size(-1);
    const int64_t sr = x.strides()[x.dim() - 2], sc = x.strides()[x.dim() - 1];
    if ((sc == 1 || c == 1) && sr >= std::max<int64_t>(c, 1)) return {x, false, sr};
    if ((sr == 1 || r == 1) && sc >= std::max<int64_t>(r, 1)) return {x, true, sc};
    Tensor copy = x.contiguous();
    return {copy, false, std::max<int64_t>(c, 1)};
}

// Offset (in elements) of batch index `flat` of `batch_shape` inside x, whose leading dims
// broadcast against batch_shape (size-1 or missing dims repeat).
int64_t batch_offset(const Tensor& x, const Shape& batch_shape, int64_t flat) {
    const int64_t x_batch_dims = x.dim() - 2;
    int64_t off = 0;
    for (int64_t d = int64_t(batch_shape.size()) - 1; d >= 0; --d) {
        const int64_t i = flat % batch_shape[d];
        flat /= batch_shape[d];
        const int64_t xd = d - (int64_t(batch_shape.size()) - x_batch_dims);
        if (xd >= 0 && x.shape()[xd] != 1) off += i * x.strides()[xd];
    }
    return off;
}

Shape broadcast_batch(const Tensor& a, const Tensor& b) {
    const int64_t na = a.dim() - 2, nb = b.dim() - 2, n = std::max(na, nb);
    Shape out(n);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t da = i - (n - na) >= 0 ? a.shape()[i - (n - na)] : 1;
        const int64_t db = i - (n - nb) >= 0 ? b.shape()[i - (n - nb)] : 1;
        ATTEND_CHECK(da == db || da == 1 || db == 1, "batch dimensions of ", to_string(a.shape()), " and ",
                     to_string(b.shape()), " do not broadcast");
        out[i] = std::max(da, db);
    }
    return out;
}

Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in) {
    const GemmOperand a = as_gemm_operand(a_in), b = as_gemm_operand(b_in);
    const int64_t M = a_in.size(-2), K = a_in.size(-1), N = b_in.size(-1);
    Shape batch = broadcast_batch(a_in, b_in);
    Shape out_shape = batch;
    out_shape.push_back(M);
    out_shape.push_back(N);
    Tensor out = Tensor::empty(out_shape);
    const int64_t batches = numel_of(batch);
    const float* pa = a.t.data();
    const float* pb = b.t.data();
    float* pc = out.data();
    auto one = [&](int64_t i) {
        sgemm(a.transposed, b.transposed, M, N, K, 1.f, pa + batch_offset(a.t, batch, i), a.ld,
              pb + batch_offset(b.t, batch, i), b.ld, 0.f, pc + i * M * N, N);
    };
    // Many small products: one GEMM per thread. Few large ones: let the GEMM use the threads.
    if (batches >= 2 * omp_get_max_threads() && M * N * K <= (int64_t(1) << 21)) {
#pragma omp parallel for schedule(static) if (worth_threading(batches * M * N * K / 8, batches))
        for (int64_t i = 0; i < batches; ++i) one(i);
    } else {
        for (int64_t i = 0; i < batches; ++i) one(i);
    }
    return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
    const ProfileScope op_scope("matmul");
    ATTEND_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul needs two tensors of at least 2 dims, got ",
                 to_string(a.shape()), " and ", to_string(b.shape()));
    ATTEND_CHECK(a.size(-1) == b.size(-2), "matmul: inner dimensions differ: ", to_string(a.shape()), " @ ",
                 to_string(b.shape()));
    Tensor out = matmul_forward(a, b);
    return record(out, "matmul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
        Tensor da = sum_to(matmul_forward(g, b.transpose(-1, -2)), a.shape());
        Tensor db = sum_to(matmul_forward(a.transpose(-1, -2), g), b.shape());
        return std::vector<Tensor>{da, db};
    });
}

namespace {

// y (rows, N) ← b in every row, for the GEMM to add x · Wᵀ onto (beta = 1). Threads take rows.
void fill_rows_with_bias(const float* b, int64_t rows, int64_t N, float* y) {
    parallel_loop(rows, rows * N, [&](int64_t r) { std::copy_n(b, N, y + r * N); });
}

// db (N) = Σ_r g[r, :], each column summed in row order whatever the thread count (threads
// take blocks of columns), so the bias gradient does not depend on it.
void sum_rows(const float* g, int64_t rows, int64_t N, float* db) {
    constexpr int64_t kColumns = 256;  // a block's partial sums stay in L1
    const int64_t blocks = (N + kColumns - 1) / kColumns;
    parallel_loop(blocks, rows * N, [&](int64_t blk) {
        const int64_t o0 = blk * kColumns, n = std::min(kColumns, N - o0);
        float* d = db + o0;
        std::fill_n(d, n, 0.f);
        for (int64_t r = 0; r < rows; ++r) {
            const float* row = g + r * N + o0;
#pragma omp simd
            for (int64_t o = 0; o < n; ++o) d[o] += row[o];
        }
    });
}

// y (rows, N) = x · Wᵀ + b with W in bf16 / int8 (low_precision.hpp), for inference. Few rows:
// the skinny kernel widens W in registers. Many (a prompt): bf16 and int8 go to the CPU's bf16
// dot products where it has them (ops/bf16_gemm.cpp; int8 values are exact in bf16, scaled
// per block); otherwise W is widened in blocks of rows into a buffer the size of a few
// cache-resident tiles, and each block goes through the fp32 GEMM — the widening is paid once
// per row of W, and amortised over all rows of x.
// Whether `weight` is a bf16 / int8 matrix whole, as the kernels read it: not a view of part
// of it (a slice, a reshape), which has no layout of its own.
bool is_whole_low_precision(const Tensor& weight) {
    const LowPrecisionMatrix* W = weight.defined() ? weight.low_precision() : nullptr;
    return W && weight.dim() == 2 && weight.offset() == 0 && weight.is_contiguous() && weight.size(0) == W->rows() &&
           weight.size(1) == W->cols();
}

Tensor linear_low_precision(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const LowPrecisionMatrix& W = *weight.low_precision();
    ATTEND_CHECK(is_whole_low_precision(weight), "linear: a ", name_of(W.type()), " weight is used whole, not as a view ",
                 to_string(weight.shape()));
    ATTEND_CHECK(!needs_grad({x, bias}), "linear: a ", name_of(W.type()),
                 " weight is for inference; no gradient flows through it (run under NoGradGuard)");
    const int64_t N = W.rows(), K = W.cols(), rows = x.numel() / K;
    const Tensor xc = x.contiguous(), bc = bias.defined() ? bias.contiguous() : Tensor();
    const float* pb = bc.defined() ? bc.data() : nullptr;
    Shape out_shape = x.shape();
    out_shape.back() = N;
    Tensor y = Tensor::empty(out_shape);  // (rows, N)
    float* py = y.data();
    if (use_skinny_gemm(rows, N, K)) {
        skinny_gemm(rows, xc.data(), W, pb, py);
        return y;
    }
    if (!bf16_gemm(rows, xc.data(), W, pb, py)) widened_gemm(rows, xc.data(), W, pb, py);
    return y;
}

}  // namespace

void linear_shared_input(const Tensor& x, std::span<const Tensor> weights, std::span<const Tensor> biases,
                         std::span<Tensor> out) {
    ATTEND_CHECK(biases.empty() || biases.size() == weights.size(), "linear_shared_input: ", biases.size(),
                 " biases for ", weights.size(), " weights (give none, or one per weight)");
    ATTEND_CHECK(out.size() == weights.size(), "linear_shared_input: room for ", out.size(), " outputs of ",
                 weights.size(), " weights");
    const auto bias_of = [&](size_t i) { return biases.empty() ? Tensor() : biases[i]; };
    const int64_t K = x.defined() && x.dim() >= 1 ? x.size(-1) : 0, rows = K > 0 ? x.numel() / K : 0;
    std::array<SharedInputProduct, kMaxSharedInput> held{};
    size_t fitting = 0;
    for (; fitting < weights.size() && fitting < held.size(); ++fitting) {
        const Tensor& w = weights[fitting];
        const Tensor& b = bias_of(fitting);
        // what linear() would take as it is; anything else goes to linear(), and its checks
        if (!is_whole_low_precision(w) || (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0) || !b.is_contiguous())))
            break;
        held[fitting] = {w.low_precision(), nullptr, nullptr};
    }
    const std::span<SharedInputProduct> products(held.data(), fitting);
    const bool differentiated = needs_grad(biases) || needs_grad({x});
    if (fitting != weights.size() || !fits_shared_input(rows, K, products) || differentiated) {
        for (size_t i = 0; i < weights.size(); ++i) out[i] = linear(x, weights[i], bias_of(i));
        return;
    }
    const ProfileScope op_scope("linear");
    const Tensor xc = x.contiguous();
    for (size_t i = 0; i < weights.size(); ++i) {
        Shape shape = x.shape();
        shape.back() = weights[i].size(0);
        out[i] = Tensor::empty(shape);  // (rows, N_i)
        const Tensor& b = bias_of(i);
        products[i].bias = b.defined() ? b.data() : nullptr;
        products[i].y = out[i].data();
    }
    skinny_gemm_shared_input(rows, xc.data(), products);
}

std::vector<Tensor> linear_shared_input(const Tensor& x, const std::vector<Tensor>& weights,
                                        const std::vector<Tensor>& biases) {
    std::vector<Tensor> out(weights.size());
    linear_shared_input(x, weights, biases, out);
    return out;
}

void widened_gemm(int64_t M, const float* x, const LowPrecisionMatrix& W, const float* bias, float* y) {
    const int64_t N = W.rows(), K = W.cols();
    constexpr int64_t kRowsPerBlock = 256;
    std::vector<float> block(size_t(std::min(N, kRowsPerBlock) * K));
    for (int64_t n0 = 0; n0 < N; n0 += kRowsPerBlock) {
        const int64_t n = std::min(kRowsPerBlock, N - n0);
        parallel_loop(n, n * K, [&](int64_t r) { W.dequantize_rows(n0 + r, n0 + r + 1, block.data() + r * K); });
        if (bias)
            for (int64_t r = 0; r < M; ++r) std::copy_n(bias + n0, n, y + r * N + n0);
        sgemm(false, true, M, n, K, 1.f, x, K, block.data(), K, bias ? 1.f : 0.f, y + n0, N);
    }
}

bool is_input_major(const Tensor& weight) {
    return weight.defined() && weight.dim() == 2 && !weight.low_precision() && weight.size(0) > 1 &&
           weight.strides()[0] == 1 && weight.strides()[1] >= weight.size(0);
}

// y = x · Wᵀ + b. W is read where it lies: (out, in) contiguous — nn.Linear's layout — or
// input-major (is_input_major: A = Wᵀ (in, out) by rows, lda apart), which the GEMMs take as
// their other transpose and the decoding product as its axpy form (ops/gemv.hpp). Anything
// else is made contiguous first.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const ProfileScope op_scope("linear");
    ATTEND_CHECK(weight.dim() == 2, "linear: weight must be (out, in), got ", to_string(weight.shape()));
    ATTEND_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", to_string(x.shape()),
                 " does not end in the weight's input width ", weight.size(1));
    const int64_t in = weight.size(1), out_features = weight.size(0), rows = x.numel() / std::max<int64_t>(in, 1);
    if (bias.defined())
        ATTEND_CHECK(bias.dim() == 1 && bias.size(0) == out_features, "linear: bias ", to_string(bias.shape()),
                     " does not match ", out_features, " outputs");
    if (weight.low_precision()) return linear_low_precision(x, weight, bias);
    const bool input_major = is_input_major(weight);
    const Tensor xc = x.contiguous(), wc = input_major ? weight : weight.contiguous();
    // W as the GEMMs see it: (out, in) row-major, transposed (ldw = in); or A (in, out), ldw apart.
    const bool w_t = !input_major;
    const int64_t ldw = input_major ? weight.strides()[1] : in;
    Shape out_shape = x.shape();
    out_shape.back() = out_features;
    Tensor y = Tensor::empty(out_shape);  // (rows, out)
    float* py = y.data();
    const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
    const float* pb = bc.defined() ? bc.data() : nullptr;
    // bf16 mixed precision: for the many-row products (training, prompts); decoding stays fp32.
    const bool bf16 = matmul_precision() == MatmulPrecision::bf16 && !use_skinny_gemm(rows, out_features, in);
    if (bf16) {
        ATTEND_CHECK(bf16_sgemm(false, w_t, rows, out_features, in, xc.data(), in, wc.data(), ldw, pb, false, py,
                                out_features),
                     "bf16 precision needs a CPU with AVX512-BF16 (vdpbf16ps), which this one lacks; use f32");
    } else if (use_skinny_gemm(rows, out_features, in)) {  // decoding: stream W once (ops/gemv.hpp)
        if (input_major) skinny_gemm_input_major(rows, out_features, in, xc.data(), wc.data(), ldw, pb, py);
        else skinny_gemm(rows, out_features, in, xc.data(), wc.data(), pb, py);
    } else {
        if (pb) fill_rows_with_bias(pb, rows, out_features, py);
        sgemm(false, w_t, rows, out_features, in, 1.f, xc.data(), in, wc.data(), ldw, pb ? 1.f : 0.f, py, out_features);
    }
    return record(y, "linear", {x, weight, bias},
                  [xc = xc.detach(), wc = wc.detach(), w_t, ldw, has_bias = bias.defined(), rows, in, out_features,
                   x_shape = x.shape(), bf16](const Tensor& g_in) {
                      const Tensor g = g_in.contiguous();  // (rows, out)
                      Tensor dx = Tensor::empty(x_shape);
                      Tensor dw = Tensor::empty({out_features, in});  // contiguous, whatever W's layout
                      if (bf16) {  // the same products with both operands rounded to bf16
                          const bool ran =
                              bf16_sgemm(false, !w_t, rows, in, out_features, g.data(), out_features, wc.data(),
                                         ldw, nullptr, false, dx.data(), in) &&  // dy · W
                              bf16_sgemm(true, false, out_features, in, rows, g.data(), out_features, xc.data(), in,
                                         nullptr, false, dw.data(), in);  // dyᵀ · x
                          ATTEND_CHECK(ran, "linear backward: bf16 products without AVX512-BF16");
                      } else {
                          sgemm(false, !w_t, rows, in, out_features, 1.f, g.data(), out_features, wc.data(), ldw,
                                0.f, dx.data(), in);  // dy · W
                          sgemm(true, false, out_features, in, rows, 1.f, g.data(), out_features, xc.data(), in,
                                0.f, dw.data(), in);  // dyᵀ · x
                      }
                      Tensor db;
                      if (has_bias) {
                          db = Tensor::empty({out_features});
                          sum_rows(g.data(), rows, out_features, db.data());
                      }
                      return std::vector<Tensor>{dx, dw, db};
                  });
}

}  // namespace attend
