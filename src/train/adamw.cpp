// train/adamw.cpp — AdamW with torch.optim.AdamW's arithmetic, and global-norm clipping.
//
//   p ← p·(1 − lr·wd)                                   decoupled decay (decaying parameters only)
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)    torch's grouping of the bias corrections
//
// Both passes over the parameters are memory-bound (AdamW reads p, g, m, v and writes p, m, v:
// 28 bytes a parameter), so each is one loop per tensor compiled as target clones (ops/simd.hpp)
// and split over the threads in fixed chunks. The file is compiled with -fno-math-errno
// (CMakeLists.txt): otherwise GCC keeps sqrtf scalar for errno's sake and nothing vectorises.
#include "attend/train/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "ops/simd.hpp"

namespace attend {

namespace {

struct AdamWConstants {
    float beta1, beta2, eps, keep, step_size, correction2_sqrt;
};

// One AdamW update of n parameters, in torch's order of operations (each line one torch op).
ATTEND_SIMD_CLONES void adamw_update(float* w, float* m, float* v, const float* g, int64_t n, AdamWConstants c) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
        w[j] *= c.keep;
        m[j] = m[j] * c.beta1 + (1.f - c.beta1) * g[j];         // torch 1.13: mul_(β1).add_(g, 1-β1)
        v[j] = v[j] * c.beta2 + (1.f - c.beta2) * g[j] * g[j];  // torch: mul_(β2).addcmul_(g, g, 1-β2)
        const float denom = std::sqrt(v[j]) / c.correction2_sqrt + c.eps;
        w[j] -= c.step_size * (m[j] / denom);
    }
}

// Σ g² in double; the vector lanes are separate partial sums, added in a fixed order.
ATTEND_SIMD_CLONES double sum_squares(const float* g, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; ++j) s += double(g[j]) * double(g[j]);
    return s;
}

ATTEND_SIMD_CLONES void scale_in_place(float* g, int64_t n, float coef) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) g[j] *= coef;
}

// Tensors are cut into chunks of this many floats: the unit of threading, and of summation
// (chunk sums are added in chunk order, so the norm does not depend on the thread count).
constexpr int64_t kChunk = int64_t(1) << 15;

struct Chunk {
    float* data;
    int64_t n;
    size_t tensor;
};

std::vector<Chunk> chunks_of(const std::vector<float*>& data, const std::vector<int64_t>& sizes) {
    std::vector<Chunk> out;
    for (size_t t = 0; t < data.size(); ++t)
        for (int64_t j = 0; j < sizes[t]; j += kChunk) out.push_back({data[t] + j, std::min(kChunk, sizes[t] - j), t});
    return out;
}

}  // namespace

bool takes_weight_decay(const std::string& name, const Tensor& p) {
    if (p.dim() < 2) return false;  // biases, norm weights
    // Embedding tables: token, position and token-type (ours "embeddings.*", torch's "embedding.weight").
    return name.find("embedding") == std::string::npos && name.find("wte") == std::string::npos &&
           name.find("wpe") == std::string::npos;
}

AdamW::AdamW(NamedParameters params, AdamWOptions options) : params_(std::move(params)), options_(options) {
    for (const auto& [name, p] : params_) {
        ATTEND_CHECK(p && p->defined(), "parameter ", name, " must be a defined tensor");
        // The update pairs element i of a weight with element i of its (contiguous) gradient:
        // a weight kept in another layout (GPT-2's Conv1D read in place from its checkpoint) is
        // copied into its own, once, here.
        if (!p->is_contiguous()) {
            const bool trainable = p->requires_grad();
            *p = p->contiguous().detach();
            p->requires_grad_(trainable);
        }
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
    // Every parameter with a gradient, cut into chunks; one parallel loop over all of them.
    std::vector<Tensor> grads;  // contiguous, kept alive for the loop
    std::vector<float*> weights;
    std::vector<int64_t> sizes;
    std::vector<size_t> index;
    for (size_t i = 0; i < params_.size(); ++i) {
        const Tensor g = params_[i].second->grad();
        if (!g.defined()) continue;
        grads.push_back(g.contiguous());
        weights.push_back(params_[i].second->data());
        sizes.push_back(params_[i].second->numel());
        index.push_back(i);
    }
    const std::vector<Chunk> chunks = chunks_of(weights, sizes);
    const int64_t n_chunks = int64_t(chunks.size());
    int64_t total = 0;
    for (int64_t n : sizes) total += n;
    parallel_loop(n_chunks, total, [&](int64_t c) {
        const Chunk& k = chunks[size_t(c)];
        const size_t i = index[k.tensor];
        const int64_t at = k.data - weights[k.tensor];
        const float keep = decay_[i] ? 1.f - lr * o.weight_decay : 1.f;
        adamw_update(k.data, m_[i].data() + at, v_[i].data() + at, grads[k.tensor].data() + at, k.n,
                     {o.beta1, o.beta2, o.eps, keep, step_size, correction2_sqrt});
    });
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
    std::vector<Tensor> grads;
    std::vector<float*> data;
    std::vector<int64_t> sizes;
    int64_t total_size = 0;
    for (const auto& [name, p] : params) {
        const Tensor g = p->grad();
        if (!g.defined()) continue;
        grads.push_back(g.contiguous());
        data.push_back(grads.back().data());
        sizes.push_back(g.numel());
        total_size += g.numel();
    }
    const std::vector<Chunk> chunks = chunks_of(data, sizes);
    const int64_t n_chunks = int64_t(chunks.size());
    std::vector<double> partial(chunks.size());
    parallel_loop(n_chunks, total_size,
                  [&](int64_t c) { partial[size_t(c)] = sum_squares(chunks[size_t(c)].data, chunks[size_t(c)].n); });
    double total = 0;
    for (double s : partial) total += s;
    const float norm = float(std::sqrt(total));
    if (max_norm <= 0.f || !std::isfinite(norm)) return norm;
    const float coef = max_norm / (norm + 1e-6f);  // torch: clip_coef = max_norm / (total_norm + 1e-6)
    if (coef >= 1.f) return norm;
    for (const auto& [name, p] : params) {
        const Tensor g = p->grad();
        if (g.defined()) ATTEND_CHECK(g.is_contiguous(), "gradient of ", name, " is not contiguous");
    }
    parallel_loop(n_chunks, total_size,
                  [&](int64_t c) { scale_in_place(chunks[size_t(c)].data, chunks[size_t(c)].n, coef); });
    return norm;
}

}  // namespace attend
