// train/gradient_reducer.cpp — bucketed sums of the gradients over ranks (see
// train/gradient_reducer.hpp).
#include "train/gradient_reducer.hpp"

#include <algorithm>
#include <cstring>

#include "attend/autograd.hpp"
#include "attend/profile.hpp"

namespace attend {

GradientReducer::GradientReducer(NamedParameters params, int64_t bucket_bytes) : params_(std::move(params)) {
    defined_.assign(params_.size(), 0.f);
    const int64_t bucket_floats = std::max<int64_t>(1, bucket_bytes / 4);
    int64_t in_bucket = 0;
    for (size_t i = params_.size(); i-- > 0;) {
        if (buckets_.empty() || in_bucket >= bucket_floats) buckets_.emplace_back(), in_bucket = 0;
        const int64_t n = params_[i].second->numel();
        buckets_.back().params.push_back(i);
        in_bucket += n, total_ += n;
    }
    for (Bucket& b : buckets_) {
        int64_t n = 0;
        for (size_t i : b.params) n += params_[i].second->numel();
        b.values.resize(size_t(n));
    }
}

void GradientReducer::start(Communicator& comm) {
    const ProfileScope scope("gradient all-reduce: pack");
    for (Bucket& b : buckets_) {
        float* at = b.values.data();
        for (size_t i : b.params) {
            const Tensor& p = *params_[i].second;
            const Tensor g = p.grad();
            defined_[i] = g.defined() ? 1.f : 0.f;
            if (g.defined()) {
                const Tensor c = g.contiguous();
                std::memcpy(at, c.data(), sizeof(float) * size_t(p.numel()));
            } else {
                std::fill(at, at + p.numel(), 0.f);
            }
            at += p.numel();
        }
        comm.start_sum(std::span<float>(b.values));
    }
    comm.start_sum(std::span<float>(defined_));
}

void GradientReducer::finish() {
    const ProfileScope scope("gradient all-reduce: unpack");
    NoGradGuard no_grad;
    for (Bucket& b : buckets_) {
        const float* at = b.values.data();
        for (size_t i : b.params) {
            const Tensor& p = *params_[i].second;
            if (defined_[i] > 0.f) {
                Tensor g = Tensor::empty(p.shape());
                std::memcpy(g.data(), at, sizeof(float) * size_t(p.numel()));
                p.set_grad(g);
            }
            at += p.numel();
        }
    }
}

}  // namespace attend
