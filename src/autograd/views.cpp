// autograd/views.cpp — the views of a Tensor that record their backward on the tape: a view's
// gradient is the inverse view (reshape back, transpose back, permute back, scatter into a
// slice), and clone's is the gradient itself. Declared in attend/tensor.hpp with the rest of
// Tensor; defined here so that core (storage, shapes) stands below the tape.
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/tensor.hpp"
#include "core/tensor_impl.hpp"
#include "core/wrap_dim.hpp"

namespace attend {

Tensor Tensor::clone() const {
    Tensor out = empty(shape());
    gather_contiguous(*this, out.data());
    return record(out, "clone", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::reshape(const Shape& new_shape_in) const {
    Shape new_shape = new_shape_in;
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < new_shape.size(); ++i) {
        if (new_shape[i] == -1) {
            ATTEND_CHECK(infer < 0, "only one -1 allowed in ", to_string(new_shape_in));
            infer = int64_t(i);
        } else known *= new_shape[i];
    }
    if (infer >= 0) {
        ATTEND_CHECK(known > 0 && numel() % known == 0, "cannot reshape ", to_string(shape()), " to ",
                     to_string(new_shape_in));
        new_shape[infer] = numel() / known;
    }
    ATTEND_CHECK(numel_of(new_shape) == numel(), "cannot reshape ", to_string(shape()), " (", numel(),
                 " elements) to ", to_string(new_shape_in));
    Tensor src = contiguous();
    Tensor out = make_view(src, new_shape, contiguous_strides(new_shape), src.offset());
    const Shape old_shape = shape();
    return record(out, "reshape", {src}, [old_shape](const Tensor& g) {
        return std::vector<Tensor>{g.reshape(old_shape)};
    });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
    d0 = wrap_dim(d0, dim(), "transpose");
    d1 = wrap_dim(d1, dim(), "transpose");
    Shape sh = shape(), st = strides();
    std::swap(sh[d0], sh[d1]);
    std::swap(st[d0], st[d1]);
    Tensor out = make_view(*this, sh, st, offset());
    return record(out, "transpose", {*this}, [d0, d1](const Tensor& g) {
        return std::vector<Tensor>{g.transpose(d0, d1)};
    });
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
    ATTEND_CHECK(int64_t(order.size()) == dim(), "permute order has ", order.size(),
                 " entries for a ", dim(), "-d tensor");
    Shape sh(order.size()), st(order.size());
    std::vector<int64_t> inverse(order.size(), -1);
    for (size_t i = 0; i < order.size(); ++i) {
        int64_t d = wrap_dim(order[i], dim(), "permute");
        ATTEND_CHECK(inverse[d] < 0, "permute: dimension ", d, " repeated");
        inverse[d] = int64_t(i);
        sh[i] = shape()[d];
        st[i] = strides()[d];
    }
    Tensor out = make_view(*this, sh, st, offset());
    return record(out, "permute", {*this}, [inverse](const Tensor& g) {
        return std::vector<Tensor>{g.permute(inverse)};
    });
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end) const {
    d = wrap_dim(d, dim(), "slice");
    ATTEND_CHECK(0 <= start && start <= end && end <= shape()[d], "slice [", start, ", ", end,
                 ") out of range for dimension ", d, " of shape ", to_string(shape()));
    Shape sh = shape();
    sh[d] = end - start;
    Tensor out = make_view(*this, sh, strides(), offset() + start * strides()[d]);
    const Shape full_shape = shape();
    return record(out, "slice", {*this}, [full_shape, d, start, end](const Tensor& g) {
        Tensor dx = Tensor::zeros(full_shape);
        Tensor window = dx.slice(d, start, end);
        const std::vector<float> values = g.to_vector();
        // scatter g into the window (row-major walk of the strided view)
        const Shape& wsh = window.shape();
        const Shape& wst = window.strides();
        std::vector<int64_t> idx(wsh.size(), 0);
        float* base = window.data();
        for (size_t n = 0; n < values.size(); ++n) {
            int64_t off = 0;
            for (size_t k = 0; k < wsh.size(); ++k) off += idx[k] * wst[k];
            base[off] = values[n];
            for (int64_t k = int64_t(wsh.size()) - 1; k >= 0; --k) {
                if (++idx[k] < wsh[k]) break;
                idx[k] = 0;
            }
        }
        return std::vector<Tensor>{dx};
    });
}

}  // namespace attend
