// nn/linear.cpp — the Linear layer: y = x · Wᵀ + b (the op is ops' linear; this owns W, b).
#include <array>
#include <cmath>

#include "attend/error.hpp"
#include "attend/nn/layers.hpp"
#include "attend/ops.hpp"

namespace attend {

// nn.Linear.reset_parameters: kaiming_uniform_(W, a=√5) gives the bound
// gain·√(3/fan_in) with gain = √(2/(1+a²)) = √(1/3), i.e. 1/√fan_in; the bias uses the same.
Linear::Linear(int64_t in_features, int64_t out_features, bool bias, ParameterInit init) {
    ATTEND_CHECK(in_features > 0 && out_features > 0, "Linear needs positive widths, got in_features=", in_features,
                 " out_features=", out_features);
    const float bound = 1.f / std::sqrt(float(in_features));
    weight = init.uniform({out_features, in_features}, -bound, bound);
    weight.requires_grad_(true);
    if (bias) {
        this->bias = init.uniform({out_features}, -bound, bound);
        this->bias.requires_grad_(true);
    }
}

void Linear::check_input(const Tensor& x) const {
    ATTEND_CHECK(weight.defined(), "this Linear was never constructed (no weight)");
    ATTEND_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "Linear expects x (..., ", weight.size(1),
                 "), got ", to_string(x.shape()));
}

Tensor Linear::forward(const Tensor& x) const {
    check_input(x);
    return linear(x, weight, bias);
}

// The weights and biases gathered where they stay (at most kMaxSharedInput layers share x;
// more go one by one), so a decoding step builds no list on the heap.
void Linear::forward_each(const Tensor& x, std::span<const Linear* const> layers, std::span<Tensor> out) {
    ATTEND_CHECK(out.size() == layers.size(), "Linear::forward_each: room for ", out.size(), " outputs of ",
                 layers.size(), " layers");
    if (layers.size() > kMaxSharedInput) {
        for (size_t i = 0; i < layers.size(); ++i) out[i] = layers[i]->forward(x);
        return;
    }
    std::array<Tensor, kMaxSharedInput> weights, biases;
    for (size_t i = 0; i < layers.size(); ++i) {
        layers[i]->check_input(x);
        weights[i] = layers[i]->weight;
        biases[i] = layers[i]->bias;
    }
    linear_shared_input(x, std::span(weights.data(), layers.size()), std::span(biases.data(), layers.size()), out);
}

void Linear::collect_parameters(const std::string& prefix, NamedParameters& out) {
    add_parameter(out, prefix, "weight", weight);
    add_parameter(out, prefix, "bias", bias);
}

}  // namespace attend
