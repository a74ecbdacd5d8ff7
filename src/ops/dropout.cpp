// ops/dropout.cpp — inverted dropout (Srivastava et al. 2014), forward and backward side by side.
//
//   keep_i = (u_i ≥ p),  u_i = gen.uniform() drawn in row-major order of x
//   y_i  = x_i · keep_i / (1 − p)      (scaled at training time, so inference is the identity)
//   dx_i = dy_i · keep_i / (1 − p)     (the same mask, kept from the forward)
//
// The mask comes from the caller's Generator, one draw per element, so a seed fixes it
// exactly and a checkpointed generator state resumes it.
#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"

namespace attend {

Tensor dropout(const Tensor& x_in, float p, Generator& gen, bool training) {
    const ProfileScope op_scope("dropout");
    ATTEND_CHECK(p >= 0.f && p < 1.f, "dropout: probability p must be in [0, 1), got ", p);
    if (!training || p == 0.f) return x_in;

    const Tensor x = x_in.contiguous();
    const int64_t n = x.numel();
    std::vector<uint8_t> keep(n);
    for (int64_t i = 0; i < n; ++i) keep[i] = gen.uniform() >= p;  // sequential: the generator is a stream

    const float scale = 1.f / (1.f - p);
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    parallel_loop(n, n, [&](int64_t i) { py[i] = keep[i] ? px[i] * scale : 0.f; });

    return record(y, "dropout", {x_in}, [keep = std::move(keep), scale](const Tensor& g_in) {
        const Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(g.shape());
        const float* pg = g.data();
        float* pd = dx.data();
        const int64_t n = g.numel();
        parallel_loop(n, n, [&](int64_t i) { pd[i] = keep[i] ? pg[i] * scale : 0.f; });
        return std::vector<Tensor>{dx};
    });
}

}  // namespace attend
