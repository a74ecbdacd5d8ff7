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
#include "ops/simd.hpp"

namespace attend {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// The row loops thread by parallel.hpp's rule with each element counted twice: a row is
// read in two passes (its max, then the exponentials and their sum).

// ---- row kernels (16-float vectors, ops/simd.hpp) -----------------------------------------
// Tails are padded with a value that does not change the result: −∞ for a max or an exp, 0
// for a sum.

ATTEND_SIMD_CLONES float max_of(const float* x, int64_t n) {
    f32x16 m = splat16(kNegInf);
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const f32x16 v = load16(x + i);
        m = v > m ? v : m;
    }
    float result = horizontal_max(m);
    for (; i < n; ++i) result = std::max(result, x[i]);
    return result;
}

ATTEND_SIMD_CLONES float dot_of(const float* a, const float* b, int64_t n) {
    f32x16 acc{};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) acc += load16(a + i) * load16(b + i);
    float s = horizontal_sum(acc);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

ATTEND_SIMD_CLONES float sum_of(const float* a, int64_t n) {
    f32x16 acc{};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) acc += load16(a + i);
    float s = horizontal_sum(acc);
    for (; i < n; ++i) s += a[i];
    return s;
}

// y = exp(x − m) (y may be null: nothing stored); returns Σ exp(x − m).
ATTEND_SIMD_CLONES float exp_shifted(const float* x, float* y, int64_t n, float m) {
    f32x16 sum{};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const f32x16 e = exp16(load16(x + i) - m);
        if (y) store16(y + i, e);
        sum += e;
    }
    if (i < n) {
        const f32x16 e = exp16(load16_partial(x + i, n - i, kNegInf) - m);
        if (y) store16_partial(y + i, n - i, e);
        sum += e;
    }
    return horizontal_sum(sum);
}

ATTEND_SIMD_CLONES void scale_in_place(float* y, int64_t n, float s) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

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

// dx = dz − exp(z) · total
ATTEND_SIMD_CLONES void log_softmax_grad_row(const float* z, const float* dz, float* dx, int64_t n, float total) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) store16(dx + i, load16(dz + i) - exp16(load16(z + i)) * total);
    if (i < n) {
        const int64_t m = n - i;
        store16_partial(dx + i, m, load16_partial(dz + i, m, 0.f) - exp16(load16_partial(z + i, m, kNegInf)) * total);
    }
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
        scale_in_place(yr, n, 1.f / exp_shifted(xr, yr, n, m));
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

// Returns, per row, whether it was fully masked (its gradient is then defined as zero).
std::vector<uint8_t> log_softmax_forward(const float* x, float* z, int64_t rows, int64_t n) {
    std::vector<uint8_t> masked(rows, 0);
    parallel_loop(rows, 2 * rows * n, [&](int64_t r) {
        const float* xr = x + r * n;
        float* zr = z + r * n;
        const float m = max_of(xr, n);
        if (m == kNegInf) {
            std::fill_n(zr, n, kNegInf);
            masked[r] = 1;
            return;
        }
        log_softmax_row(xr, zr, n, m, std::log(exp_shifted(xr, nullptr, n, m)));
    });
    return masked;
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
    std::vector<uint8_t> masked = log_softmax_forward(x.data(), z.data(), rows, n);
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
