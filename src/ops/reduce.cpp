// ops/reduce.cpp — sums, means and maxima, forward and backward.
//
//   s = Σ x         dx = ds (broadcast back)
//   m = Σ x / n     dx = dm / n
//   M = max_d x     dx = dM at the (first) argmax, 0 elsewhere
#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/wrap_dim.hpp"

namespace attend {

namespace {

// View x as (outer, n, inner) around dimension d.
struct Split3 {
    int64_t outer = 1, n = 1, inner = 1;
};
Split3 split_around(const Shape& s, int64_t d) {
    Split3 r;
    for (int64_t i = 0; i < d; ++i) r.outer *= s[i];
    r.n = s[d];
    for (size_t i = d + 1; i < s.size(); ++i) r.inner *= s[i];
    return r;
}

Shape reduced_shape(const Shape& s, int64_t d, bool keepdim) {
    Shape out = s;
    if (keepdim) out[d] = 1;
    else out.erase(out.begin() + d);
    return out;
}

// Expand g (reduced along d, shape `kept` with a 1 at d) back to `full`.
Tensor expand_along(const Tensor& g, const Shape& full, int64_t d, float factor) {
    Shape kept = full;
    kept[d] = 1;
    const Tensor gk = g.reshape(kept).contiguous();
    Tensor out = Tensor::empty(full);
    const Split3 s = split_around(full, d);
    const float* pg = gk.data();
    float* po = out.data();
    for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t k = 0; k < s.n; ++k)
            for (int64_t i = 0; i < s.inner; ++i) po[(o * s.n + k) * s.inner + i] = pg[o * s.inner + i] * factor;
    return out;
}

}  // namespace

Tensor sum(const Tensor& x_in) {
    const ProfileScope op_scope("sum");
    const Tensor x = x_in.contiguous();
    double s = 0;
    const float* p = x.data();
    for (int64_t i = 0; i < x.numel(); ++i) s += p[i];
    Tensor out = Tensor::full({}, float(s));
    return record(out, "sum", {x_in}, [shape = x_in.shape()](const Tensor& g) {
        return std::vector<Tensor>{Tensor::full(shape, g.item())};
    });
}

Tensor mean(const Tensor& x) {
    const ProfileScope op_scope("mean");
    ATTEND_CHECK(x.numel() > 0, "mean of an empty tensor");
    return scale(sum(x), 1.f / float(x.numel()));
}

Tensor sum(const Tensor& x_in, int64_t dim, bool keepdim) {
    const ProfileScope op_scope("sum");
    const int64_t d = wrap_dim(dim, x_in.dim(), "sum");
    const Tensor x = x_in.contiguous();
    const Split3 s = split_around(x.shape(), d);
    Tensor out = Tensor::zeros(reduced_shape(x.shape(), d, keepdim));
    const float* px = x.data();
    float* po = out.data();
    for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t k = 0; k < s.n; ++k)
            for (int64_t i = 0; i < s.inner; ++i) po[o * s.inner + i] += px[(o * s.n + k) * s.inner + i];
    return record(out, "sum_dim", {x_in}, [shape = x_in.shape(), d](const Tensor& g) {
        return std::vector<Tensor>{expand_along(g, shape, d, 1.f)};
    });
}

Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
    const ProfileScope op_scope("mean");
    const int64_t d = wrap_dim(dim, x.dim(), "mean");
    ATTEND_CHECK(x.shape()[d] > 0, "mean over an empty dimension");
    return scale(sum(x, d, keepdim), 1.f / float(x.shape()[d]));
}

Tensor max(const Tensor& x_in, int64_t dim, bool keepdim) {
    const ProfileScope op_scope("max");
    const int64_t d = wrap_dim(dim, x_in.dim(), "max");
    const Tensor x = x_in.contiguous();
    const Split3 s = split_around(x.shape(), d);
    ATTEND_CHECK(s.n > 0, "max over an empty dimension");
    Tensor out = Tensor::empty(reduced_shape(x.shape(), d, keepdim));
    std::vector<int64_t> argmax(s.outer * s.inner);
    const float* px = x.data();
    float* po = out.data();
    for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t i = 0; i < s.inner; ++i) {
            int64_t best = 0;
            for (int64_t k = 1; k < s.n; ++k)
                if (px[(o * s.n + k) * s.inner + i] > px[(o * s.n + best) * s.inner + i]) best = k;
            argmax[o * s.inner + i] = best;
            po[o * s.inner + i] = px[(o * s.n + best) * s.inner + i];
        }
    return record(out, "max", {x_in}, [shape = x_in.shape(), s, argmax](const Tensor& g_in) {
        const Tensor g = g_in.contiguous();
        Tensor dx = Tensor::zeros(shape);
        for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t i = 0; i < s.inner; ++i)
                dx.data()[(o * s.n + argmax[o * s.inner + i]) * s.inner + i] = g.data()[o * s.inner + i];
        return std::vector<Tensor>{dx};
    });
}

}  // namespace attend
