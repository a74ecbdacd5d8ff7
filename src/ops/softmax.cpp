// ops/softmax.cpp — softmax and log-softmax, forward and backward side by side.
//
//   y_i  = exp(x_i − m) / Σ_j exp(x_j − m),   m = max_j x_j   (subtracting m keeps exp finite)
//   dx_i = y_i · (dy_i − Σ_j dy_j · y_j)                      (softmax's Jacobian applied to dy)
//
//   z_i  = (x_i − m) − log Σ_j exp(x_j − m)                   (log-softmax; m first, so ±1e4 is exact)
//   dx_i = dy_i − softmax_i · Σ_j dy_j,   softmax_i = exp(z_i)
//
// Defined edge case: a row that is entirely −inf (a fully masked attention row) gives
//   softmax     → all zeros, zero gradient;
//   log_softmax → all −inf (the log of those zeros), zero gradient.
// PyTorch gives NaN for both. A row with only some −inf entries is ordinary: those entries
// get probability 0.
//
// The kernels work on contiguous rows of the last dimension; another `dim` is moved last
// (one copy each way), which transformers never need on a hot path.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "core/wrap_dim.hpp"
#include "ops/row_kernels.hpp"
#include "ops/simd.hpp"

namespace attend {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// The row loops thread by parallel.hpp's rule with each element counted twice: a row is
// read in two passes (its max, then the exponentials and their sum).

// ---- row kernels ------------------------------------------------------------------------------
// max_of, sum_of, dot_of and exp_shifted are ops/row_kernels.hpp's (chosen per CPU). The maps
// below are plain loops, which every clone vectorises, but for log_softmax_grad_row's exp.
// Tails are padded with a value that does not change the result: −∞ for an exp, 0 for a sum.

// dx = y · (dy − dot)
ATTEND_SIMD_CLONES void softmax_grad_row(const float* y, const float* dy, float* dx, int64_t n, float dot) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = y[i] * (dy[i] - dot);
}

// z = (x − m) − log_sum
ATTEND_SIMD_CLONES void log_softmax_row(const float* x, float* z, int64_t n, float m, float log_sum) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) z[i] = (x[i] - m) - log_sum;
}

// dx = dz − exp(z) · total, on F's lanes (ops/simd.hpp), and its two instances.
template <class F>
ATTEND_VECTOR_INLINE void log_softmax_grad_row_v(const float* z, const float* dz, float* dx, int64_t n, float total) {
    constexpr int64_t L = lanes_of<F>;
    int64_t i = 0;
    for (; i + L <= n; i += L) store_v(dx + i, load_v<F>(dz + i) - exp_v<F>(load_v<F>(z + i), F{}) * total);
    if (i < n) {
        const int64_t m = n - i;
        store_partial_v(dx + i, m,
                        load_partial_v<F>(dz + i, m, 0.f) - exp_v<F>(load_partial_v<F>(z + i, m, kNegInf), F{}) * total);
    }
}
ATTEND_SIMD_CLONES void log_softmax_grad_row_16(const float* z, const float* dz, float* dx, int64_t n, float total) {
    log_softmax_grad_row_v<f32x16>(z, dz, dx, n, total);
}
ATTEND_AVX2_FMA void log_softmax_grad_row_8(const float* z, const float* dz, float* dx, int64_t n, float total) {
    log_softmax_grad_row_v<f32x8>(z, dz, dx, n, total);
}
void log_softmax_grad_row(const float* z, const float* dz, float* dx, int64_t n, float total) {
    cpu_prefers_avx2_kernels() ? log_softmax_grad_row_8(z, dz, dx, n, total)
                               : log_softmax_grad_row_16(z, dz, dx, n, total);
}

// Applies `last_dim_op` along `dim` by moving `dim` last and back (recorded, so autograd sees it).
template <class Op>
Tensor along(const Tensor& x, int64_t dim, const char* name, Op last_dim_op) {
    ATTEND_CHECK(x.dim() >= 1, name, " needs at least one dimension, got a scalar");
    const int64_t d = wrap_dim(dim, x.dim(), name);
    if (d == x.dim() - 1) return last_dim_op(x);
    return last_dim_op(x.transpose(d, -1)).transpose(d, -1).contiguous();
}

void softmax_forward(const float* x, float* y, int64_t rows, int64_t n) {  // x, y: (rows, n)
    parallel_loop(rows, 2 * rows * n, [&](int64_t r) {
        const float* xr = x + r * n;
        float* yr = y + r * n;
        const float m = max_of(xr, n);
        if (m == kNegInf) {  // fully masked row: defined as zeros
            std::fill_n(yr, n, 0.f);
            return;
        }
        scale_row(yr, n, 1.f / exp_shifted(xr, yr, n, m, 1.f));
    });
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n) {
    parallel_loop(rows, 2 * rows * n, [&](int64_t r) {
        const float* yr = y + r * n;
        const float* dyr = dy + r * n;
        float* dxr = dx + r * n;
        const float dot = dot_of(dyr, yr, n);  // Σ_j dy_j · y_j; a masked row has y = 0, so dx = 0
        softmax_grad_row(yr, dyr, dxr, n, dot);
    });
}

// masked (rows), when given: per row, whether it was all −inf (its gradient is then defined as zero).
void log_softmax_forward(const float* x, float* z, int64_t rows, int64_t n, uint8_t* masked) {
    parallel_loop(rows, 2 * rows * n, [&](int64_t r) {
        const float* xr = x + r * n;
        float* zr = z + r * n;
        const float m = max_of(xr, n);
        if (m == kNegInf) {
            std::fill_n(zr, n, kNegInf);
            if (masked) masked[r] = 1;
            return;
        }
        if (masked) masked[r] = 0;
        log_softmax_row(xr, zr, n, m, std::log(exp_shifted(xr, nullptr, n, m, 1.f)));
    });
}

void log_softmax_backward(const float* z, const float* dz, float* dx, const std::vector<uint8_t>& masked,
                          int64_t rows, int64_t n) {
    parallel_loop(rows, 2 * rows * n, [&](int64_t r) {
        const float* zr = z + r * n;
        const float* dzr = dz + r * n;
        float* dxr = dx + r * n;
        if (masked[r]) {  // exp(−inf) = 0 would leave dx = dz; a fully masked row passes nothing
            std::fill_n(dxr, n, 0.f);
            return;
        }
        const float total = sum_of(dzr, n);  // Σ_j dz_j
        log_softmax_grad_row(zr, dzr, dxr, n, total);
    });
}

Tensor softmax_last(const Tensor& x_in) {
    const Tensor x = x_in.contiguous();
    const int64_t n = x.size(-1), rows = n ? x.numel() / n : 0;
    Tensor y = Tensor::empty(x.shape());  // (rows, n)
    softmax_forward(x.data(), y.data(), rows, n);
    return record(y, "softmax", {x_in}, [y = y.detach(), rows, n](const Tensor& g_in) {
        const Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(y.shape());
        softmax_backward(y.data(), g.data(), dx.data(), rows, n);
        return std::vector<Tensor>{dx};
    });
}

Tensor log_softmax_last(const Tensor& x_in) {
    const Tensor x = x_in.contiguous();
    const int64_t n = x.size(-1), rows = n ? x.numel() / n : 0;
    Tensor z = Tensor::empty(x.shape());  // (rows, n)
    if (!needs_grad({x_in})) {  // no closure, no mask to keep: a decoding step allocates nothing here
        log_softmax_forward(x.data(), z.data(), rows, n, nullptr);
        return z;
    }
    std::vector<uint8_t> masked(static_cast<size_t>(rows));
    log_softmax_forward(x.data(), z.data(), rows, n, masked.data());
    return record(z, "log_softmax", {x_in},
                  [z = z.detach(), masked = std::move(masked), rows, n](const Tensor& g_in) {
                      const Tensor g = g_in.contiguous();
                      Tensor dx = Tensor::empty(z.shape());
                      log_softmax_backward(z.data(), g.data(), dx.data(), masked, rows, n);
                      return std::vector<Tensor>{dx};
                  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
    const ProfileScope op_scope("softmax");
    return along(x, dim, "softmax", softmax_last);
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
    const ProfileScope op_scope("log_softmax");
    return along(x, dim, "log_softmax", log_softmax_last);
}

}  // namespace attend
