// ops/pointwise.hpp — y = f(x), element by element: the loop under every unary op
// (activation.cpp, elementwise.cpp). Internal to src/ops.
#pragma once
#include <cstdint>

#include "attend/tensor.hpp"
#include "core/parallel_loop.hpp"

namespace attend {

// out = f(x) elementwise, into a new contiguous tensor of x's shape; x made contiguous first.
template <class F>
Tensor map_pointwise(const Tensor& x_in, F f) {
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty(x.shape());
    const float* px = x.data();
    float* po = out.data();
    const int64_t n = x.numel();
    parallel_loop(n, n, [&](int64_t i) { po[i] = f(px[i]); });
    return out;
}

}  // namespace attend
