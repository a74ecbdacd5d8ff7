// ops.hpp — differentiable operations on Tensors. Each is implemented in src/ops/<name>.cpp
// with its forward and backward side by side.
//
// Conventions: "dim" may be negative (counted from the end); binary elementwise ops
// broadcast as NumPy/PyTorch do; integer inputs (token ids, targets) are std::vector<int64_t>
// in row-major order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "attend/random.hpp"
#include "attend/tensor.hpp"

namespace attend {

// ---- linear algebra (src/ops/matmul.cpp; GEMM from oneDNN) ----
// a (..., M, K) @ b (..., K, N) -> (..., M, N); batch dims broadcast; b may be 2-D.
// Transposed views are passed to the GEMM as such, without a copy.
Tensor matmul(const Tensor& a, const Tensor& b);
// x (..., in) · weight (out, in)ᵀ + bias (out) -> (..., out); bias may be undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// linear(x, weights[i], biases[i]) into out[i] for each i (biases empty, or one per weight,
// undefined for none): the same tensors, bit for bit. Where every weight is bf16 / int8 of one
// type, there are at most kMaxSharedInput of them and x has few rows (decoding), x is prepared
// once and one parallel region computes them all (a layer's q, k and v projections:
// ops/gemv.hpp, skinny_gemm_shared_input); otherwise one linear() each, with their gradients.
constexpr size_t kMaxSharedInput = 4;
void linear_shared_input(const Tensor& x, std::span<const Tensor> weights, std::span<const Tensor> biases,
                         std::span<Tensor> out);
std::vector<Tensor> linear_shared_input(const Tensor& x, const std::vector<Tensor>& weights,
                                        const std::vector<Tensor>& biases = {});
// Whether linear() reads a (out, in) weight in place as its transpose: weight.t() contiguous
// by rows, rows ≥ out floats apart (strides (1, lda)) — GPT-2's Conv1D weight where its
// checkpoint stores it (io/hf_names.cpp keeps it so, a view of the mapped file).
bool is_input_major(const Tensor& weight);

// ---- elementwise, with broadcasting (src/ops/elementwise.cpp) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float s);       // x · s
Tensor add_scalar(const Tensor& x, float s);  // x + s
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
// Sum `grad` (shaped as a broadcast result) down to `shape`: the backward of broadcasting.
Tensor sum_to(const Tensor& grad, const Shape& shape);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator*(const Tensor& a, float s) { return scale(a, s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// ---- reductions (src/ops/reduce.cpp) ----
Tensor sum(const Tensor& x);                                   // all elements -> ()
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);  // values; grad to the argmax

// ---- softmax family (src/ops/softmax.cpp) ----
// Numerically stable (max subtracted). A row that is entirely -inf (a fully masked attention
// row) is defined, not NaN: softmax gives all zeros, log_softmax all -inf (log 0); both pass
// zero gradient.
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);

// ---- normalisation (src/ops/norm.cpp), over the last dimension ----
// y = (x - mean) / sqrt(var + eps) · weight + bias   (Ba et al. 2016; biased variance)
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);
// y = x / sqrt(mean(x²) + eps) · weight             (Zhang & Sennrich 2019)
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps = 1e-6f);

// ---- activations (src/ops/activation.cpp) ----
enum class GeluApproximation { none, tanh };
Tensor gelu(const Tensor& x, GeluApproximation approximate = GeluApproximation::none);
Tensor relu(const Tensor& x);
Tensor silu(const Tensor& x);  // x · sigmoid(x)
Tensor sigmoid(const Tensor& x);

// ---- embedding and loss (src/ops/embedding.cpp, src/ops/cross_entropy.cpp) ----
// weight (V, D), ids of shape `ids_shape` -> ids_shape + (D). An id outside [0, V) is an Error.
Tensor embedding(const Tensor& weight, std::span<const int64_t> ids, const Shape& ids_shape);
inline Tensor embedding(const Tensor& weight, std::initializer_list<int64_t> ids, const Shape& ids_shape) {
    return embedding(weight, std::span<const int64_t>(ids.begin(), ids.size()), ids_shape);
}
// logits (N, C), targets (N): mean over targets != ignore_index of
// -Σ_c q_c log p_c, q = (1 - ε)·onehot + ε/C (label smoothing as torch.nn.CrossEntropyLoss).
// Every target ignored: loss 0 with zero gradient (torch: NaN). A target outside [0, C) is an Error.
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& targets,
                     int64_t ignore_index = -100, float label_smoothing = 0.f);

// ---- regularisation (src/ops/dropout.cpp) ----
// Inverted dropout: kept elements are scaled by 1/(1-p); identity when !training or p == 0.
// Element i (row-major) is dropped when the i-th gen.uniform() < p. p outside [0, 1) is an Error.
Tensor dropout(const Tensor& x, float p, Generator& gen, bool training = true);

// ---- shape (src/ops/shape.cpp) ----
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);
// The parts are views of x (as torch.split); `sizes` must sum to x.size(dim).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
// (B, T, H·D) -> (B, H, T, D) and back, as contiguous tensors (views when T or H is 1 and x is
// contiguous: the memory order is the same, so no copy).
Tensor split_heads(const Tensor& x, int64_t n_heads);
Tensor merge_heads(const Tensor& x);

}  // namespace attend
