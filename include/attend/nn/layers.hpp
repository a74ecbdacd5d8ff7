// nn/layers.hpp — the small learned layers: Linear, Embedding, LayerNorm, RMSNorm, and Norm
// (one of the two, chosen by a config's NormType). Thin wrappers over the ops in ops.hpp
// that own their parameters and name them as torch does ("weight", "bias").
//
// Implemented in src/nn/linear.cpp, src/nn/embedding.cpp and src/nn/norm.cpp.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "attend/nn/block_config.hpp"
#include "attend/nn/init.hpp"
#include "attend/nn/module.hpp"
#include "attend/random.hpp"
#include "attend/tensor.hpp"

namespace attend {

// y = x · Wᵀ + b,   x (..., in) -> (..., out),   W (out, in), b (out).
class Linear {
public:
    Linear() = default;  // empty; assign a constructed one
    // nn.Linear's initialisation, kaiming_uniform(a=√5) on W and its bias rule: W and b both
    // ~ U(−1/√in, 1/√in). Families that initialise otherwise overwrite the values.
    // (`init` may be uninitialised: shapes only, nn/init.hpp.)
    Linear(int64_t in_features, int64_t out_features, bool bias, ParameterInit init);

    Tensor forward(const Tensor& x) const;
    // forward(x) of each layer, as one call (attend/ops.hpp linear_shared_input): a layer's q, k
    // and v projections, or gate and up, share the work of x when decoding in bf16 / int8.
    template <size_t N>
    static std::array<Tensor, N> forward_each(const Tensor& x, const std::array<const Linear*, N>& layers) {
        std::array<Tensor, N> out;
        forward_each(x, layers, out);
        return out;
    }
    static void forward_each(const Tensor& x, std::span<const Linear* const> layers, std::span<Tensor> out);
    void collect_parameters(const std::string& prefix, NamedParameters& out);  // weight, bias

    int64_t in_features() const { return weight.size(1); }
    int64_t out_features() const { return weight.size(0); }

    Tensor weight;  // (out, in)
    Tensor bias;    // (out) or undefined

private:
    void check_input(const Tensor& x) const;  // an Error unless x is (..., in_features)
};

// A lookup table: ids of shape S -> S + (dim).
class Embedding {
public:
    Embedding() = default;
    // nn.Embedding's initialisation: N(0, stddev²), stddev 1 unless given.
    Embedding(int64_t num_embeddings, int64_t dim, ParameterInit init, float stddev = 1.f);

    // ids in row-major order for `ids_shape`; an id outside [0, num_embeddings) is an Error.
    Tensor forward(std::span<const int64_t> ids, const Shape& ids_shape) const;
    Tensor forward(std::initializer_list<int64_t> ids, const Shape& ids_shape) const {
        return forward(std::span<const int64_t>(ids.begin(), ids.size()), ids_shape);
    }
    void collect_parameters(const std::string& prefix, NamedParameters& out);  // weight

    int64_t num_embeddings() const { return weight.size(0); }
    int64_t dim() const { return weight.size(1); }

    Tensor weight;  // (num_embeddings, dim)
};

// y = (x − μ) / √(σ² + ε) · weight + bias over the last dimension (Ba et al. 2016).
// weight = 1, bias = 0 initially, as nn.LayerNorm.
class LayerNorm {
public:
    LayerNorm() = default;
    explicit LayerNorm(int64_t dim, float eps = 1e-5f, bool bias = true);

    Tensor forward(const Tensor& x) const;
    void collect_parameters(const std::string& prefix, NamedParameters& out);  // weight, bias

    Tensor weight;  // (dim)
    Tensor bias;    // (dim) or undefined
    float eps = 1e-5f;
};

// y = x / √(mean(x²) + ε) · weight over the last dimension (Zhang & Sennrich 2019); weight = 1.
class RMSNorm {
public:
    RMSNorm() = default;
    explicit RMSNorm(int64_t dim, float eps = 1e-6f);

    Tensor forward(const Tensor& x) const;
    void collect_parameters(const std::string& prefix, NamedParameters& out);  // weight

    Tensor weight;  // (dim)
    float eps = 1e-6f;
};

// The norm a BlockConfig asks for: LayerNorm (with bias) or RMSNorm, under the same
// parameter names ("weight", and "bias" for LayerNorm).
class Norm {
public:
    Norm() = default;
    Norm(NormType type, int64_t dim, float eps);

    Tensor forward(const Tensor& x) const;
    void collect_parameters(const std::string& prefix, NamedParameters& out);

    NormType type() const { return type_; }
    Tensor& weight() { return type_ == NormType::layer_norm ? layer_norm.weight : rms_norm.weight; }
    Tensor& bias() { return layer_norm.bias; }  // undefined for RMSNorm

    LayerNorm layer_norm;  // used when type() == layer_norm
    RMSNorm rms_norm;      // used when type() == rms_norm

private:
    NormType type_ = NormType::layer_norm;
};

}  // namespace attend
