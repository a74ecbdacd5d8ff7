// nn/norm.cpp — LayerNorm and RMSNorm layers over the last dimension, and Norm, the one a
// config's NormType picks. The arithmetic (and its backward) is ops' layer_norm / rms_norm.
#include "attend/error.hpp"
#include "attend/nn/layers.hpp"
#include "attend/ops.hpp"

namespace attend {

namespace {

void check_width(const Tensor& x, const Tensor& weight, const char* what) {
    ATTEND_CHECK(weight.defined(), "this ", what, " was never constructed (no weight)");
    ATTEND_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(0), what, " over ", weight.size(0),
                 " features expects x (..., ", weight.size(0), "), got ", to_string(x.shape()));
}

}  // namespace

LayerNorm::LayerNorm(int64_t dim, float eps, bool bias) : eps(eps) {
    ATTEND_CHECK(dim > 0, "LayerNorm needs a positive width, got ", dim);
    ATTEND_CHECK(eps >= 0.f, "LayerNorm eps must be ≥ 0, got ", eps);
    weight = Tensor::ones({dim});
    weight.requires_grad_(true);
    if (bias) {
        this->bias = Tensor::zeros({dim});
        this->bias.requires_grad_(true);
    }
}

Tensor LayerNorm::forward(const Tensor& x) const {
    check_width(x, weight, "LayerNorm");
    return layer_norm(x, weight, bias, eps);
}

void LayerNorm::collect_parameters(const std::string& prefix, NamedParameters& out) {
    add_parameter(out, prefix, "weight", weight);
    add_parameter(out, prefix, "bias", bias);
}

RMSNorm::RMSNorm(int64_t dim, float eps) : eps(eps) {
    ATTEND_CHECK(dim > 0, "RMSNorm needs a positive width, got ", dim);
    ATTEND_CHECK(eps >= 0.f, "RMSNorm eps must be ≥ 0, got ", eps);
    weight = Tensor::ones({dim});
    weight.requires_grad_(true);
}

Tensor RMSNorm::forward(const Tensor& x) const {
    check_width(x, weight, "RMSNorm");
    return rms_norm(x, weight, eps);
}

void RMSNorm::collect_parameters(const std::string& prefix, NamedParameters& out) {
    add_parameter(out, prefix, "weight", weight);
}

Norm::Norm(NormType type, int64_t dim, float eps) : type_(type) {
    if (type == NormType::layer_norm)
        layer_norm = LayerNorm(dim, eps, true);
    else
        rms_norm = RMSNorm(dim, eps);
}

Tensor Norm::forward(const Tensor& x) const {
    return type_ == NormType::layer_norm ? layer_norm.forward(x) : rms_norm.forward(x);
}

void Norm::collect_parameters(const std::string& prefix, NamedParameters& out) {
    if (type_ == NormType::layer_norm)
        layer_norm.collect_parameters(prefix, out);
    else
        rms_norm.collect_parameters(prefix, out);
}

}  // namespace attend
