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
// GELU, sigmoid and SiLU run on float vectors (ops/activation_simd.hpp: the maths, its accuracy and
// its edge values), in row kernels chosen per CPU; relu stays a scalar loop (GCC vectorises it).
//
// Each backward recomputes what it needs from x (cheap) rather than keeping extra tensors.
#include <algorithm>
#include <cmath>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "ops/activation_simd.hpp"
#include "ops/bias_gelu.hpp"
#include "ops/pointwise.hpp"

namespace attend {

namespace {

namespace vec = activation_simd;

// dx = dy · f'(x), with f'(x) given as df(x) and both made contiguous.
template <class DF>
Tensor chain(const Tensor& dy_in, const Tensor& x, DF df) {
    const Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x.shape());
    const float* pg = dy.data();
    const float* px = x.data();
    float* pd = dx.data();
    const int64_t n = x.numel();
    parallel_loop(n, n, [&](int64_t i) { pd[i] = pg[i] * df(px[i]); });
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

// ---- vector kernels: per direction, on 16 floats as target clones and on 8 for AVX2 + FMA --------
enum class Kind { gelu_erf, gelu_tanh, sigmoid, silu };

template <class V>
ATTEND_VECTOR_INLINE void forward_rows_v(Kind kind, const float* x, float* y, int64_t n) {
    switch (kind) {
        case Kind::gelu_erf: return vec::forward_row<vec::GeluErf, V>(x, y, n);
        case Kind::gelu_tanh: return vec::forward_row<vec::GeluTanh, V>(x, y, n);
        case Kind::sigmoid: return vec::forward_row<vec::Sigmoid, V>(x, y, n);
        case Kind::silu: return vec::forward_row<vec::Silu, V>(x, y, n);
    }
}

template <class V>
ATTEND_VECTOR_INLINE void backward_rows_v(Kind kind, const float* x, const float* dy, float* dx, int64_t n) {
    switch (kind) {
        case Kind::gelu_erf: return vec::backward_row<vec::GeluErf, V>(x, dy, dx, n);
        case Kind::gelu_tanh: return vec::backward_row<vec::GeluTanh, V>(x, dy, dx, n);
        case Kind::sigmoid: return vec::backward_row<vec::Sigmoid, V>(x, dy, dx, n);
        case Kind::silu: return vec::backward_row<vec::Silu, V>(x, dy, dx, n);
    }
}

ATTEND_SIMD_CLONES void forward_rows_16(Kind kind, const float* x, float* y, int64_t n) {
    forward_rows_v<f32x16>(kind, x, y, n);
}
ATTEND_AVX2_FMA void forward_rows_8(Kind kind, const float* x, float* y, int64_t n) {
    forward_rows_v<f32x8>(kind, x, y, n);
}
void forward_rows(Kind kind, const float* x, float* y, int64_t n) {
    cpu_prefers_avx2_kernels() ? forward_rows_8(kind, x, y, n) : forward_rows_16(kind, x, y, n);
}

ATTEND_SIMD_CLONES void backward_rows_16(Kind kind, const float* x, const float* dy, float* dx, int64_t n) {
    backward_rows_v<f32x16>(kind, x, dy, dx, n);
}
ATTEND_AVX2_FMA void backward_rows_8(Kind kind, const float* x, const float* dy, float* dx, int64_t n) {
    backward_rows_v<f32x8>(kind, x, dy, dx, n);
}
void backward_rows(Kind kind, const float* x, const float* dy, float* dx, int64_t n) {
    cpu_prefers_avx2_kernels() ? backward_rows_8(kind, x, dy, dx, n) : backward_rows_16(kind, x, dy, dx, n);
}

// Threads take blocks of kBlock elements (a multiple of 16, so only the last block has a tail).
constexpr int64_t kBlock = 4096;

template <class Body>
void over_blocks(int64_t n, Body body) {
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    parallel_loop(blocks, n, [&](int64_t b) { body(b * kBlock, std::min(kBlock, n - b * kBlock)); });
}

// Records y = f(x) for a vector kind; the backward recomputes f′ from x.
Tensor vector_pointwise(const char* name, Kind kind, const Tensor& x_in) {
    const Tensor x = x_in.contiguous();
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    over_blocks(x.numel(), [&](int64_t i, int64_t m) { forward_rows(kind, px + i, py + i, m); });
    return record(y, name, {x_in}, [x = x.detach(), kind](const Tensor& g_in) {
        const Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(x.shape());
        const float* px = x.data();
        const float* pg = g.data();
        float* pd = dx.data();
        over_blocks(x.numel(), [&](int64_t i, int64_t m) { backward_rows(kind, px + i, pg + i, pd + i, m); });
        return std::vector<Tensor>{dx};
    });
}

}  // namespace

Tensor gelu(const Tensor& x, GeluApproximation approximate) {
    const ProfileScope op_scope("gelu");
    if (approximate == GeluApproximation::tanh) return vector_pointwise("gelu_tanh", Kind::gelu_tanh, x);
    return vector_pointwise("gelu", Kind::gelu_erf, x);
}

// bias_gelu (ops/bias_gelu.hpp) row by row: z = x + b written into y, then the activation in
// place. Backward recomputes z per row into a scratch row, writes dx = dy · gelu′(z) and sums
// db from it: rows go in fixed blocks of kBiasRows, each block's partial db added in block order.
Tensor bias_gelu(const Tensor& x_in, const Tensor& bias_in, GeluApproximation approximate) {
    const ProfileScope op_scope("bias_gelu");
    ATTEND_CHECK(x_in.dim() >= 1 && x_in.size(-1) > 0, "bias_gelu: input ", to_string(x_in.shape()),
                 " needs a non-empty last dimension");
    ATTEND_CHECK(bias_in.defined() && bias_in.dim() == 1 && bias_in.size(0) == x_in.size(-1), "bias_gelu: bias ",
                 bias_in.defined() ? to_string(bias_in.shape()) : std::string("(undefined)"),
                 " does not match the last dimension of ", to_string(x_in.shape()));
    const Kind kind = approximate == GeluApproximation::tanh ? Kind::gelu_tanh : Kind::gelu_erf;
    const Tensor x = x_in.contiguous(), b = bias_in.contiguous();
    const int64_t C = b.numel(), rows = x.numel() / C;
    Tensor y = Tensor::empty(x.shape());  // (rows, C)
    {
        const float* px = x.data();
        const float* pb = b.data();
        float* py = y.data();
        parallel_loop(rows, rows * C, [&](int64_t r) {
            float* yr = py + r * C;
            const float* xr = px + r * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] + pb[c];
            forward_rows(kind, yr, yr, C);
        });
    }
    return record(y, approximate == GeluApproximation::tanh ? "bias_gelu_tanh" : "bias_gelu", {x_in, bias_in},
                  [x = x.detach(), b = b.detach(), kind, rows, C](const Tensor& g_in) {
                      constexpr int64_t kBiasRows = 32;
                      const Tensor g = g_in.contiguous();
                      Tensor dx = Tensor::empty(x.shape());
                      const int64_t blocks = (rows + kBiasRows - 1) / kBiasRows;
                      std::vector<float> partial(size_t(blocks * C), 0.f);  // (blocks, C)
                      const float* px = x.data();
                      const float* pb = b.data();
                      const float* pg = g.data();
                      float* pd = dx.data();
#pragma omp parallel if (worth_threading(rows * C, blocks))
                      {
                          std::vector<float> z(static_cast<size_t>(C));
#pragma omp for schedule(static)
                          for (int64_t blk = 0; blk < blocks; ++blk) {
                              float* acc = partial.data() + blk * C;
                              for (int64_t r = blk * kBiasRows; r < std::min(rows, (blk + 1) * kBiasRows); ++r) {
                                  const float* xr = px + r * C;
#pragma omp simd
                                  for (int64_t c = 0; c < C; ++c) z[size_t(c)] = xr[c] + pb[c];
                                  backward_rows(kind, z.data(), pg + r * C, pd + r * C, C);
                                  const float* dr = pd + r * C;
#pragma omp simd
                                  for (int64_t c = 0; c < C; ++c) acc[c] += dr[c];
                              }
                          }
                      }
                      Tensor db = Tensor::zeros({C});
                      float* pdb = db.data();
                      for (int64_t blk = 0; blk < blocks; ++blk)
                          for (int64_t c = 0; c < C; ++c) pdb[c] += partial[size_t(blk * C + c)];
                      return std::vector<Tensor>{dx, db};
                  });
}

Tensor relu(const Tensor& x) {
    const ProfileScope op_scope("relu");
    return pointwise(
        "relu", x, [](float v) { return v < 0.f ? 0.f : v; },  // written so that NaN passes through
        [](float v) { return v > 0.f ? 1.f : 0.f; });
}

Tensor sigmoid(const Tensor& x) {
    const ProfileScope op_scope("sigmoid");
    return vector_pointwise("sigmoid", Kind::sigmoid, x);
}

Tensor silu(const Tensor& x) {
    const ProfileScope op_scope("silu");
    return vector_pointwise("silu", Kind::silu, x);
}

}  // namespace attend
