// ops/activation.cpp — pointwise activations, forward and backward side by side.
//
//   gelu (exact):  y = x · Φ(x) = ½ x (1 + erf(x / √2))
//                  dy/dx = Φ(x) + x · φ(x),   φ(x) = exp(−x²/2) / √(2π)
//   gelu (tanh):   u = √(2/π) (x + 0.044715 x³),  y = ½ x (1 + tanh u)     (torch's approximate='tanh')
//                  dy/dx = ½ (1 + tanh u) + ½ x (1 − tanh² u) · √(2/π) (1 + 3 · 0.044715 x²)
//   relu:          y = max(x, 0),          dy/dx = [x > 0]               (0 at x = 0, as torch)
//   sigmoid:       y = σ(x) = 1 / (1 + e⁻ˣ),  dy/dx = y (1 − y)
//   silu:          y = x σ(x),             dy/dx = σ(x) (1 + x (1 − σ(x)))
//
// Each backward recomputes what it needs from x (cheap) rather than keeping extra tensors.
#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "ops/pointwise.hpp"

namespace attend {

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kKappa = 0.044715f;

// dx = dy · f'(x), with f'(x) given as df(x) and both made contiguous.
template <class DF>
Tensor chain(const Tensor& dy_in, const Tensor& x, DF df) {
    const Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x.shape());
    const float* pg = dy.data();
    const float* px = x.data();
    float* pd = dx.data();
    const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > kPointwiseParallelMin)
    for (int64_t i = 0; i < n; ++i) pd[i] = pg[i] * df(px[i]);
    return dx;
}

// Records y = f(x) with dx = dy · df(x); x kept (detached, contiguous) for the backward.
template <class F, class DF>
Tensor pointwise(const char* name, const Tensor& x_in, F f, DF df) {
    const Tensor x = x_in.contiguous();
    Tensor y = map_pointwise(x, f);
    return record(y, name, {x_in}, [x = x.detach(), df](const Tensor& g) {
        return std::vector<Tensor>{chain(g, x, df)};
    });
}

inline float sigmoid_of(float v) { return 1.f / (1.f + std::exp(-v)); }  // e⁻ˣ = inf gives 0, not NaN

}  // namespace

Tensor gelu(const Tensor& x, GeluApproximation approximate) {
    if (approximate == GeluApproximation::tanh) {
        return pointwise(
            "gelu_tanh", x,
            [](float v) { return 0.5f * v * (1.f + std::tanh(kSqrt2OverPi * (v + kKappa * v * v * v))); },
            [](float v) {
                const float t = std::tanh(kSqrt2OverPi * (v + kKappa * v * v * v));
                const float du = kSqrt2OverPi * (1.f + 3.f * kKappa * v * v);
                return 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du;
            });
    }
    return pointwise(
        "gelu", x, [](float v) { return 0.5f * v * (1.f + std::erf(v * kInvSqrt2)); },
        [](float v) { return 0.5f * (1.f + std::erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * std::exp(-0.5f * v * v); });
}

Tensor relu(const Tensor& x) {
    return pointwise(
        "relu", x, [](float v) { return v < 0.f ? 0.f : v; },  // written so that NaN passes through
        [](float v) { return v > 0.f ? 1.f : 0.f; });
}

Tensor sigmoid(const Tensor& x) {
    return pointwise("sigmoid", x, sigmoid_of, [](float v) {
        const float s = sigmoid_of(v);
        return s * (1.f - s);
    });
}

Tensor silu(const Tensor& x) {
    return pointwise(
        "silu", x, [](float v) { return v * sigmoid_of(v); },
        [](float v) {
            const float s = sigmoid_of(v);
            return s * (1.f + v * (1.f - s));
        });
}

}  // namespace attend
