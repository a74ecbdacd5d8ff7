// train/adamw.cpp — AdamW with torch.optim.AdamW's arithmetic, and global-norm clipping.
//
//   p ← p·(1 − lr·wd)                                   decoupled decay (decaying parameters only)
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)    torch's grouping of the bias corrections
#include "attend/train/optimizer.hpp"

#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/parallel.hpp"
#include "attend/profile.hpp"

namespace attend {

bool takes_weight_decay(const std::string& name, const Tensor& p) {
    if (p.dim() < 2) return false;  // biases, norm weights
    // Embedding tables: token, position and token-type (ours "embeddings.*", torch's "embedding.weight").
    return name.find("embedding") == std::string::npos && name.find("wte") == std::string::npos &&
           name.find("wpe") == std::string::npos;
}

AdamW::AdamW(NamedParameters params, AdamWOptions options) : params_(std::move(params)), options_(options) {
    for (const auto& [name, p] : params_) {
        ATTEND_CHECK(p && p->defined() && p->is_contiguous(), "parameter ", name, " must be a defined, contiguous tensor");
        m_.push_back(Tensor::zeros(p->shape()));
        v_.push_back(Tensor::zeros(p->shape()));
        decay_.push_back(takes_weight_decay(name, *p));
    }
}

void AdamW::zero_grad() {
    for (const auto& [name, p] : params_) p->zero_grad();
}

void AdamW::step(float lr) {
    const ProfileScope op_scope("adamw step");
    NoGradGuard no_grad;
    ++step_;
    const AdamWOptions& o = options_;
    // Bias corrections as torch computes them (_single_tensor_adamw, capturable=False), in
    // double for the powers and then rounded like torch's Python floats into f32 arithmetic.
    const double correction1 = 1.0 - std::pow(double(o.beta1), double(step_));
    const double correction2 = 1.0 - std::pow(double(o.beta2), double(step_));
    const float step_size = float(double(lr) / correction1);
    const float correction2_sqrt = float(std::sqrt(correction2));
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor& p = *params_[i].second;
        const Tensor g_tensor = p.grad();
        if (!g_tensor.defined()) continue;
        const Tensor g_c = g_tensor.contiguous();
        const float* g = g_c.data();
        float* w = p.data();
        float* m = m_[i].data();
        float* v = v_[i].data();
        const float keep = decay_[i] ? 1.f - lr * o.weight_decay : 1.f;
        const int64_t n = p.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
        for (int64_t j = 0; j < n; ++j) {
            w[j] *= keep;
            m[j] = m[j] * o.beta1 + (1.f - o.beta1) * g[j];          // torch 1.13: mul_(β1).add_(g, 1-β1)
            v[j] = v[j] * o.beta2 + (1.f - o.beta2) * g[j] * g[j];   // torch: mul_(β2).addcmul_(g, g, 1-β2)
            const float denom = std::sqrt(v[j]) / correction2_sqrt + o.eps;
            w[j] -= step_size * (m[j] / denom);
        }
    }
}

std::map<std::string, Tensor> AdamW::state() const {
    std::map<std::string, Tensor> out;
    for (size_t i = 0; i < params_.size(); ++i) {
        out["m." + params_[i].first] = m_[i];
        out["v." + params_[i].first] = v_[i];
    }
    out["step"] = Tensor::full({1}, float(step_));
    return out;
}

void AdamW::load_state(const std::map<std::string, Tensor>& state) {
    auto find = [&](const std::string& key, const Shape& shape) -> const Tensor& {
        auto it = state.find(key);
        ATTEND_CHECK(it != state.end(), "optimizer state has no ", key);
        ATTEND_CHECK(it->second.shape() == shape, "optimizer state ", key, " has shape ", to_string(it->second.shape()),
                     " but the parameter has shape ", to_string(shape));
        return it->second;
    };
    const Tensor& step = find("step", {1});
    for (const auto& [name, p] : params_) {  // check everything before writing anything
        find("m." + name, p->shape());
        find("v." + name, p->shape());
    }
    for (size_t i = 0; i < params_.size(); ++i) {
        const std::string& name = params_[i].first;
        copy_parameter(m_[i], find("m." + name, m_[i].shape()), "m." + name);
        copy_parameter(v_[i], find("v." + name, v_[i].shape()), "v." + name);
    }
    step_ = int64_t(step.item());
}

float clip_grad_norm(const NamedParameters& params, float max_norm) {
    const ProfileScope op_scope("clip_grad_norm");
    NoGradGuard no_grad;
    // ‖g‖ = √(Σ_p ‖g_p‖²), summed in double so the order of parameters barely matters.
    double total = 0;
    for (const auto& [name, p] : params) {
        const Tensor g = p->grad();
        if (!g.defined()) continue;
        const Tensor c = g.contiguous();
        const float* d = c.data();
        double s = 0;
        for (int64_t j = 0; j < c.numel(); ++j) s += double(d[j]) * d[j];
        total += s;
    }
    const float norm = float(std::sqrt(total));
    if (max_norm <= 0.f || !std::isfinite(norm)) return norm;
    const float coef = max_norm / (norm + 1e-6f);  // torch: clip_coef = max_norm / (total_norm + 1e-6)
    if (coef >= 1.f) return norm;
    for (const auto& [name, p] : params) {
        Tensor g = p->grad();
        if (!g.defined()) continue;
        ATTEND_CHECK(g.is_contiguous(), "gradient of ", name, " is not contiguous");
        float* d = g.data();
        for (int64_t j = 0; j < g.numel(); ++j) d[j] *= coef;
    }
    return norm;
}

}  // namespace attend
