// ops/shape.cpp — concat, split and the attention-head reshuffles, forward and backward side by side.
//
//   y = concat(x_0, …, x_k; dim)     dx_j = the block of dy that x_j filled
//   (y_0, …, y_k) = split(x; dim)    dx = zeros with dy_j written into block j   (per part)
//   split_heads: (B, T, H·D) -> (B, H, T, D)    backward: merge_heads of dy
//   merge_heads: (B, H, T, D) -> (B, T, H·D)    backward: split_heads of dy
//
// Around `dim` a tensor is (outer, n, inner); a block along `dim` is then `outer` runs of
// n_j·inner contiguous floats, so both directions are memcpy loops.
#include <cstring>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "core/wrap_dim.hpp"

namespace attend {

namespace {

int64_t outer_of(const Shape& s, int64_t d) {
    int64_t n = 1;
    for (int64_t i = 0; i < d; ++i) n *= s[i];
    return n;
}

int64_t inner_of(const Shape& s, int64_t d) {
    int64_t n = 1;
    for (size_t i = d + 1; i < s.size(); ++i) n *= s[i];
    return n;
}

// Copies `outer` runs of `run` floats between buffers whose runs repeat every src_stride /
// dst_stride floats.
void copy_runs(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t outer, int64_t run) {
    if (run == 0) return;
    parallel_loop(outer, outer * run, [&](int64_t o) {
        std::memcpy(dst + o * dst_stride, src + o * src_stride, sizeof(float) * size_t(run));
    });
}

// (B, T, H·D) with its last stride 1 (a split() view qualifies, uncopied) -> contiguous (B, H, T, D).
Tensor to_heads(const Tensor& x_in, int64_t H) {
    const Tensor x = x_in.strides()[2] == 1 ? x_in : x_in.contiguous();
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2) / H, sb = x.strides()[0], st = x.strides()[1];
    Tensor out = Tensor::empty({B, H, T, D});
    const float* px = x.data();
    float* po = out.data();
    parallel_loop(B * H * T, B * H * T * D, [&](int64_t row) {  // row = (b, h, t) of the output
        const int64_t t = row % T, h = (row / T) % H, b = row / (T * H);
        std::memcpy(po + row * D, px + b * sb + t * st + h * D, sizeof(float) * size_t(D));
    });
    return out;
}

// (B, H, T, D) with its last stride 1 -> contiguous (B, T, H·D).
Tensor from_heads(const Tensor& x_in) {
    const Tensor x = x_in.strides()[3] == 1 ? x_in : x_in.contiguous();
    const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
    const int64_t sb = x.strides()[0], sh = x.strides()[1], st = x.strides()[2];
    Tensor out = Tensor::empty({B, T, H * D});
    const float* px = x.data();
    float* po = out.data();
    parallel_loop(B * T * H, B * H * T * D, [&](int64_t row) {  // row = (b, t, h) of the output
        const int64_t h = row % H, t = (row / H) % T, b = row / (H * T);
        std::memcpy(po + row * D, px + b * sb + h * sh + t * st, sizeof(float) * size_t(D));
    });
    return out;
}

}  // namespace

Tensor concat(const std::vector<Tensor>& parts, int64_t dim) {
    const ProfileScope op_scope("concat");
    ATTEND_CHECK(!parts.empty(), "concat: no tensors to concatenate");
    for (size_t j = 0; j < parts.size(); ++j)
        ATTEND_CHECK(parts[j].defined(), "concat: part ", j, " is an undefined tensor");
    const Shape& first = parts[0].shape();
    const int64_t d = wrap_dim(dim, int64_t(first.size()), "concat");
    Shape out_shape = first;
    out_shape[d] = 0;
    for (size_t j = 0; j < parts.size(); ++j) {
        const Shape& s = parts[j].shape();
        bool same = s.size() == first.size();
        for (size_t i = 0; same && i < s.size(); ++i) same = int64_t(i) == d || s[i] == first[i];
        ATTEND_CHECK(same, "concat: part ", j, " has shape ", to_string(s), " but part 0 has ", to_string(first),
                     "; they may differ only in dimension ", d);
        out_shape[d] += s[d];
    }
    Tensor out = Tensor::empty(out_shape);  // (outer, Σ n_j, inner)
    const int64_t outer = outer_of(out_shape, d), inner = inner_of(out_shape, d), row = out_shape[d] * inner;
    std::vector<int64_t> starts;  // where part j begins along d
    int64_t start = 0;
    for (const Tensor& p : parts) {
        const Tensor pc = p.contiguous();
        copy_runs(pc.data(), p.size(d) * inner, out.data() + start * inner, row, outer, p.size(d) * inner);
        starts.push_back(start);
        start += p.size(d);
    }

    std::vector<Shape> shapes;
    for (const Tensor& p : parts) shapes.push_back(p.shape());
    return record(out, "concat", parts, [shapes, starts, d, outer, inner, row](const Tensor& g_in) {
        const Tensor g = g_in.contiguous();
        std::vector<Tensor> grads;
        for (size_t j = 0; j < shapes.size(); ++j) {
            Tensor dj = Tensor::empty(shapes[j]);
            const int64_t run = shapes[j][d] * inner;
            copy_runs(g.data() + starts[j] * inner, row, dj.data(), run, outer, run);
            grads.push_back(dj);
        }
        return grads;
    });
}

// The parts are views of x (no copy, as torch.split); each records its own backward, which
// writes its block into a zero gradient without the generic strided scatter of slice().
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
    const ProfileScope op_scope("split");
    const int64_t d = wrap_dim(dim, x.dim(), "split");
    int64_t total = 0;
    for (int64_t s : sizes) {
        ATTEND_CHECK(s >= 0, "split: negative size ", s, " in the split sizes");
        total += s;
    }
    ATTEND_CHECK(total == x.size(d), "split: sizes sum to ", total, " but dimension ", d, " of ",
                 to_string(x.shape()), " has ", x.size(d));
    const Shape full = x.shape();
    const int64_t outer = outer_of(full, d), inner = inner_of(full, d), row = full[d] * inner;
    std::vector<Tensor> parts;
    int64_t start = 0;
    for (int64_t s : sizes) {
        Shape shape = full;
        shape[d] = s;
        Tensor view = Tensor::make_view(x, shape, x.strides(), x.offset() + start * x.strides()[d]);
        parts.push_back(record(view, "split", {x}, [full, start, outer, inner, row, s](const Tensor& g_in) {
            const Tensor g = g_in.contiguous();
            Tensor dx = Tensor::zeros(full);
            copy_runs(g.data(), s * inner, dx.data() + start * inner, row, outer, s * inner);
            return std::vector<Tensor>{dx};
        }));
        start += s;
    }
    return parts;
}

Tensor split_heads(const Tensor& x, int64_t n_heads) {
    const ProfileScope op_scope("split_heads");
    ATTEND_CHECK(x.dim() == 3, "split_heads: expected (B, T, H·D), got ", to_string(x.shape()));
    ATTEND_CHECK(n_heads > 0 && x.size(2) % n_heads == 0, "split_heads: width ", x.size(2), " of ",
                 to_string(x.shape()), " is not divisible into ", n_heads, " heads");
    // One token (a decoding step) or one head: (B, H, T, D) is the input's own memory order,
    // so a view does it without a copy.
    if ((x.size(1) == 1 || n_heads == 1) && x.is_contiguous())
        return x.reshape({x.size(0), n_heads, x.size(1), x.size(2) / n_heads});
    Tensor out = to_heads(x, n_heads);  // (B, H, T, D)
    return record(out, "split_heads", {x}, [](const Tensor& g) { return std::vector<Tensor>{from_heads(g)}; });
}

Tensor merge_heads(const Tensor& x) {
    const ProfileScope op_scope("merge_heads");
    ATTEND_CHECK(x.dim() == 4, "merge_heads: expected (B, H, T, D), got ", to_string(x.shape()));
    const int64_t H = x.size(1);
    if ((x.size(2) == 1 || H == 1) && x.is_contiguous())  // as split_heads: the same memory order, a view
        return x.reshape({x.size(0), x.size(2), H * x.size(3)});
    Tensor out = from_heads(x);  // (B, T, H·D)
    return record(out, "merge_heads", {x}, [H](const Tensor& g) { return std::vector<Tensor>{to_heads(g, H)}; });
}

}  // namespace attend
