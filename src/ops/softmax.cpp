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
#include <cmath>
#include <limits>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"

namespace attend {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kParallelMin = 32768;  // elements; below this, threads cost more than they save

#define ATTEND_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

ATTEND_SIMD_CLONES float max_of(const float* x, int64_t n) {
    float m = kNegInf;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
    return m;
}

ATTEND_SIMD_CLONES float dot_of(const float* a, const float* b, int64_t n) {
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

ATTEND_SIMD_CLONES float sum_of(const float* a, int64_t n) {
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += a[i];
    return s;
}

// y = exp(x − m); returns Σ y.
float exp_shifted(const float* x, float* y, int64_t n, float m) {
    float s = 0.f;
    for (int64_t i = 0; i < n; ++i) {
        y[i] = std::exp(x[i] - m);
        s += y[i];
    }
    return s;
}

// Σ exp(x − m), nothing stored.
float sum_exp_shifted(const float* x, int64_t n, float m) {
    float s = 0.f;
    for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
    return s;
}

ATTEND_SIMD_CLONES void scale_in_place(float* y, int64_t n, float s) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

int64_t wrap_dim(int64_t dim, int64_t nd, const char* op) {
    const int64_t d = dim < 0 ? dim + nd : dim;
    ATTEND_CHECK(d >= 0 && d < nd, op, ": dimension ", dim, " out of range for a ", nd, "-d tensor");
    return d;
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
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * n;
        float* yr = y + r * n;
        const float m = max_of(xr, n);
        if (m == kNegInf) {  // fully masked row: defined as zeros
            std::fill_n(yr, n, 0.f);
            continue;
        }
        scale_in_place(yr, n, 1.f / exp_shifted(xr, yr, n, m));
    }
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n) {
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
        const float* yr = y + r * n;
        const float* dyr = dy + r * n;
        float* dxr = dx + r * n;
        const float dot = dot_of(dyr, yr, n);  // Σ_j dy_j · y_j; a masked row has y = 0, so dx = 0
        for (int64_t c = 0; c < n; ++c) dxr[c] = yr[c] * (dyr[c] - dot);
    }
}

// Returns, per row, whether it was fully masked (its gradient is then defined as zero).
std::vector<uint8_t> log_softmax_forward(const float* x, float* z, int64_t rows, int64_t n) {
    std::vector<uint8_t> masked(rows, 0);
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * n;
        float* zr = z + r * n;
        const float m = max_of(xr, n);
        if (m == kNegInf) {
            std::fill_n(zr, n, kNegInf);
            masked[r] = 1;
            continue;
        }
        const float log_sum = std::log(sum_exp_shifted(xr, n, m));
        for (int64_t c = 0; c < n; ++c) zr[c] = (xr[c] - m) - log_sum;
    }
    return masked;
}

void log_softmax_backward(const float* z, const float* dz, float* dx, const std::vector<uint8_t>& masked,
                          int64_t rows, int64_t n) {
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
        const float* zr = z + r * n;
        const float* dzr = dz + r * n;
        float* dxr = dx + r * n;
        if (masked[r]) {  // exp(−inf) = 0 would leave dx = dz; a fully masked row passes nothing
            std::fill_n(dxr, n, 0.f);
            continue;
        }
        const float total = sum_of(dzr, n);  // Σ_j dz_j
        for (int64_t c = 0; c < n; ++c) dxr[c] = dzr[c] - std::exp(zr[c]) * total;
    }
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

Tensor softmax(const Tensor& x, int64_t dim) { return along(x, dim, "softmax", softmax_last); }

Tensor log_softmax(const Tensor& x, int64_t dim) { return along(x, dim, "log_softmax", log_softmax_last); }

}  // namespace attend
