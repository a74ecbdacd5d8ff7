// ops/elementwise.cpp — pointwise ops with NumPy broadcasting, forward and backward.
//
//   z = a + b   da = sum_to(dz),       db = sum_to(dz)
//   z = a − b   da = sum_to(dz),       db = −sum_to(dz)
//   z = a · b   da = sum_to(dz · b),   db = sum_to(dz · a)
//   z = a / b   da = sum_to(dz / b),   db = −sum_to(dz · a / b²)
// sum_to reduces a gradient over the dimensions that broadcasting expanded.
#include <cmath>
#include <functional>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "ops/pointwise.hpp"

namespace attend {

namespace {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
    const size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        const int64_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
        const int64_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
        ATTEND_CHECK(da == db || da == 1 || db == 1, "shapes ", to_string(a), " and ", to_string(b),
                     " do not broadcast");
        out[i] = std::max(da, db);
    }
    return out;
}

// Strides of x seen as a tensor of shape `out` (0 where x broadcasts).
Shape broadcast_strides(const Tensor& x, const Shape& out) {
    Shape st(out.size(), 0);
    const size_t off = out.size() - x.shape().size();
    for (size_t i = 0; i < x.shape().size(); ++i)
        st[i + off] = x.shape()[i] == 1 ? 0 : x.strides()[i];
    return st;
}

// When `small` broadcasts against `out` only along leading dimensions (its shape, leading 1s
// dropped, is out's trailing shape: a bias (C) against (B, T, C)), it repeats every
// small.numel() elements of out; returns that period, or 0 when it is not so.
int64_t trailing_period(const Shape& small, const Shape& out) {
    size_t lead = 0;
    while (lead < small.size() && small[lead] == 1) ++lead;
    const size_t k = small.size() - lead;
    if (k == 0 || k > out.size()) return 0;
    int64_t period = 1;
    for (size_t i = 0; i < k; ++i) {
        if (small[lead + i] != out[out.size() - k + i]) return 0;
        period *= small[lead + i];
    }
    return period;
}

template <class F>
Tensor binary(const Tensor& a, const Tensor& b, F f) {
    const Shape out_shape = broadcast_shapes(a.shape(), b.shape());
    Tensor out = Tensor::empty(out_shape);
    float* po = out.data();
    const float* pa = a.data();
    const float* pb = b.data();
    const int64_t n = out.numel();
    if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
        parallel_loop(n, n, [&](int64_t i) { po[i] = f(pa[i], pb[i]); });
        return out;
    }
    if (b.numel() == 1 && a.is_contiguous() && a.shape() == out_shape) {  // tensor ∘ scalar tensor
        const float s = pb[0];
        for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], s);
        return out;
    }
    // x ∘ bias, bias ∘ x: one operand repeats along the leading dimensions (rows of `period`)
    if (a.is_contiguous() && b.is_contiguous() && n > 0) {
        const int64_t pa_period = a.shape() == out_shape ? trailing_period(b.shape(), out_shape) : 0;
        const int64_t pb_period = b.shape() == out_shape ? trailing_period(a.shape(), out_shape) : 0;
        if (pa_period || pb_period) {
            const int64_t period = pa_period ? pa_period : pb_period, rows = n / period;
            parallel_loop(rows, n, [&](int64_t r) {
                float* o = po + r * period;
                if (pa_period) {
                    const float* x = pa + r * period;
                    for (int64_t j = 0; j < period; ++j) o[j] = f(x[j], pb[j]);
                } else {
                    const float* y = pb + r * period;
                    for (int64_t j = 0; j < period; ++j) o[j] = f(pa[j], y[j]);
                }
            });
            return out;
        }
    }
    const Shape sa = broadcast_strides(a, out_shape), sb = broadcast_strides(b, out_shape);
    const int64_t nd = int64_t(out_shape.size());
    std::vector<int64_t> idx(nd, 0);
    int64_t oa = 0, ob = 0;
    for (int64_t i = 0; i < n; ++i) {
        po[i] = f(pa[oa], pb[ob]);
        for (int64_t d = nd - 1; d >= 0; --d) {  // odometer step with running offsets
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < out_shape[d]) break;
            oa -= sa[d] * out_shape[d];
            ob -= sb[d] * out_shape[d];
            idx[d] = 0;
        }
    }
    return out;
}

}  // namespace

Tensor sum_to(const Tensor& grad, const Shape& shape) {
    const ProfileScope op_scope("sum_to");
    if (grad.shape() == shape) return grad;
    const Shape& gs = grad.shape();
    ATTEND_CHECK(gs.size() >= shape.size(), "sum_to: cannot reduce ", to_string(gs), " to ", to_string(shape));
    Tensor out = Tensor::zeros(shape);
    if (const int64_t period = trailing_period(shape, gs)) {
        // a bias's gradient: the sum of grad's rows of `period`, each added whole (vectorises)
        const Tensor g = grad.contiguous();
        const float* pg = g.data();
        float* po = out.data();
        const int64_t rows = g.numel() / period;
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < period; ++j) po[j] += pg[r * period + j];
        return out;
    }
    // Accumulate every element of grad into its broadcast source.
    Tensor view = Tensor::make_view(out, gs, broadcast_strides(out, gs), 0);
    const Tensor g = grad.contiguous();
    const float* pg = g.data();
    float* po = out.data();
    const Shape& st = view.strides();
    const int64_t nd = int64_t(gs.size()), n = g.numel();
    std::vector<int64_t> idx(nd, 0);
    int64_t o = 0;
    for (int64_t i = 0; i < n; ++i) {
        po[o] += pg[i];
        for (int64_t d = nd - 1; d >= 0; --d) {
            o += st[d];
            if (++idx[d] < gs[d]) break;
            o -= st[d] * gs[d];
            idx[d] = 0;
        }
    }
    return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
    const ProfileScope op_scope("add");
    Tensor out = binary(a, b, [](float x, float y) { return x + y; });
    return record(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
        return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
    });
}

Tensor sub(const Tensor& a, const Tensor& b) {
    const ProfileScope op_scope("sub");
    Tensor out = binary(a, b, [](float x, float y) { return x - y; });
    return record(out, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
        return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
    });
}

Tensor mul(const Tensor& a, const Tensor& b) {
    const ProfileScope op_scope("mul");
    Tensor out = binary(a, b, [](float x, float y) { return x * y; });
    return record(out, "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
        return std::vector<Tensor>{sum_to(mul(g, b), a.shape()), sum_to(mul(g, a), b.shape())};
    });
}

Tensor div(const Tensor& a, const Tensor& b) {
    const ProfileScope op_scope("div");
    Tensor out = binary(a, b, [](float x, float y) { return x / y; });
    return record(out, "div", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
        Tensor da = sum_to(div(g, b), a.shape());
        Tensor db = sum_to(neg(div(mul(g, a), mul(b, b))), b.shape());
        return std::vector<Tensor>{da, db};
    });
}

Tensor scale(const Tensor& x, float s) {
    const ProfileScope op_scope("scale");
    Tensor out = map_pointwise(x, [s](float v) { return v * s; });
    return record(out, "scale", {x}, [s](const Tensor& g) { return std::vector<Tensor>{scale(g, s)}; });
}

Tensor add_scalar(const Tensor& x, float s) {
    const ProfileScope op_scope("add_scalar");
    Tensor out = map_pointwise(x, [s](float v) { return v + s; });
    return record(out, "add_scalar", {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor neg(const Tensor& x) {
    const ProfileScope op_scope("neg");
    return scale(x, -1.f);
}

// y = eˣ        dx = dy · y
Tensor exp(const Tensor& x) {
    const ProfileScope op_scope("exp");
    Tensor y = map_pointwise(x, [](float v) { return std::exp(v); });
    return record(y, "exp", {x}, [y = y.detach()](const Tensor& g) { return std::vector<Tensor>{mul(g, y)}; });
}

// y = ln x      dx = dy / x
Tensor log(const Tensor& x) {
    const ProfileScope op_scope("log");
    Tensor y = map_pointwise(x, [](float v) { return std::log(v); });
    return record(y, "log", {x}, [x = x.detach()](const Tensor& g) { return std::vector<Tensor>{div(g, x)}; });
}

// y = √x        dx = dy / (2y)
Tensor sqrt(const Tensor& x) {
    const ProfileScope op_scope("sqrt");
    Tensor y = map_pointwise(x, [](float v) { return std::sqrt(v); });
    return record(y, "sqrt", {x}, [y = y.detach()](const Tensor& g) {
        return std::vector<Tensor>{div(g, scale(y, 2.f))};
    });
}

// y = tanh x    dx = dy · (1 − y²)
Tensor tanh(const Tensor& x) {
    const ProfileScope op_scope("tanh");
    Tensor y = map_pointwise(x, [](float v) { return std::tanh(v); });
    return record(y, "tanh", {x}, [y = y.detach()](const Tensor& g) {
        return std::vector<Tensor>{mul(g, map_pointwise(y, [](float v) { return 1.f - v * v; }))};
    });
}

}  // namespace attend
