// ops/cross_entropy.cpp — softmax cross-entropy with ignore-index and label smoothing,
// forward and backward side by side. As torch.nn.functional.cross_entropy(logits, targets,
// ignore_index=ι, label_smoothing=ε, reduction='mean'):
//
//   log p_c = (x_c − m) − log Σ_j exp(x_j − m),   m = max_j x_j
//   ℓ_r = (1 − ε) · (−log p_t) + ε · mean_c(−log p_c)       t = target of row r
//   L = Σ_{r : t_r ≠ ι} ℓ_r / #{r : t_r ≠ ι}
//   dL/dx_rc = (p_c − q_c) / #valid,   q = (1 − ε)·onehot(t) + ε / C;  0 on ignored rows
//
// Defined edge case: when every target is ignored, L = 0 with zero gradient (torch: 0/0 = NaN).
// Per-row losses are summed in order, in double, so the result does not depend on threads.
// The passes over a row run on vectors chosen per CPU (ops/row_kernels.hpp): a GPT-2-sized row
// of 50,257 classes took ~0.4 ms a pass with scalar std::exp.
#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "ops/row_kernels.hpp"
#include "ops/simd.hpp"

namespace attend {

namespace {

// dx_c = k · (exp((x_c − m) − log_sum) − off_target): p_c from the saved m and log Σ, shifted in
// two steps so that it stays exact at ±1e4 (one shift by m + log Σ would round it).
template <class F>
ATTEND_VECTOR_INLINE void gradient_row_v(const float* x, float* dx, int64_t n, float m, float log_sum, float k,
                                         float off_target) {
    constexpr int64_t L = lanes_of<F>;
    int64_t c = 0;
    for (; c + L <= n; c += L)
        store_v(dx + c, k * (exp_v<F>((load_v<F>(x + c) - m) - log_sum, F{}) - off_target));
    if (c < n)
        store_partial_v(dx + c, n - c,
                        k * (exp_v<F>((load_partial_v<F>(x + c, n - c, 0.f) - m) - log_sum, F{}) - off_target));
}
ATTEND_SIMD_CLONES void gradient_row_16(const float* x, float* dx, int64_t n, float m, float log_sum, float k,
                                        float off_target) {
    gradient_row_v<f32x16>(x, dx, n, m, log_sum, k, off_target);
}
ATTEND_AVX2_FMA void gradient_row_8(const float* x, float* dx, int64_t n, float m, float log_sum, float k,
                                    float off_target) {
    gradient_row_v<f32x8>(x, dx, n, m, log_sum, k, off_target);
}
void gradient_row(const float* x, float* dx, int64_t n, float m, float log_sum, float k, float off_target) {
    cpu_prefers_avx2_kernels() ? gradient_row_8(x, dx, n, m, log_sum, k, off_target)
                               : gradient_row_16(x, dx, n, m, log_sum, k, off_target);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& targets, int64_t ignore_index,
                     float label_smoothing) {
    const ProfileScope op_scope("cross_entropy");
    ATTEND_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got ", to_string(logits.shape()));
    const int64_t rows = logits.size(0), classes = logits.size(1);
    ATTEND_CHECK(int64_t(targets.size()) == rows, "cross_entropy: ", targets.size(), " targets for ", rows,
                 " rows of logits ", to_string(logits.shape()));
    ATTEND_CHECK(classes > 0, "cross_entropy: logits ", to_string(logits.shape()), " have no classes");
    ATTEND_CHECK(label_smoothing >= 0.f && label_smoothing <= 1.f,
                 "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
    int64_t valid = 0;
    for (int64_t r = 0; r < rows; ++r) {
        if (targets[r] == ignore_index) continue;
        ATTEND_CHECK(targets[r] >= 0 && targets[r] < classes, "cross_entropy: target ", targets[r], " at row ", r,
                     " is outside [0, ", classes, ") and is not the ignore_index ", ignore_index);
        ++valid;
    }

    const Tensor x = logits.contiguous();  // (rows, classes)
    const float eps = label_smoothing;
    std::vector<float> row_max(rows, 0.f), row_log_sum(rows, 0.f);
    std::vector<double> row_loss(rows, 0.0);
    const float* px = x.data();
    parallel_loop(rows, 2 * rows * classes, [&](int64_t r) {  // two passes a row
        if (targets[r] == ignore_index) return;
        const float* xr = px + r * classes;
        const float m = max_of(xr, classes);
        const float log_sum = std::log(exp_shifted(xr, nullptr, classes, m, 1.f));  // log Σ exp(x − m)
        row_max[r] = m;
        row_log_sum[r] = log_sum;
        const double nll = double(log_sum) - double(xr[targets[r]] - m);  // −log p_t
        const double mean_shifted = double(sum_of(xr, classes)) / double(classes) - double(m);  // mean_c (x_c − m)
        const double smooth = double(log_sum) - mean_shifted;                                   // mean_c −log p_c
        row_loss[r] = (1.0 - eps) * nll + eps * smooth;
    });
    double total = 0;
    for (int64_t r = 0; r < rows; ++r) total += row_loss[r];
    Tensor loss = Tensor::full({}, valid ? float(total / double(valid)) : 0.f);

    return record(loss, "cross_entropy", {logits},
                  [x = x.detach(), targets, ignore_index, eps, valid, row_max = std::move(row_max),
                   row_log_sum = std::move(row_log_sum)](const Tensor& g) {
                      const int64_t rows = x.size(0), classes = x.size(1);
                      Tensor dx = Tensor::zeros(x.shape());
                      if (valid == 0) return std::vector<Tensor>{dx};
                      const float k = g.item() / float(valid);
                      const float off_target = eps / float(classes);  // q_c for c ≠ t
                      const float* px = x.data();
                      float* pdx = dx.data();
                      parallel_loop(rows, 2 * rows * classes, [&](int64_t r) {  // two passes a row
                          if (targets[r] == ignore_index) return;
                          const float* xr = px + r * classes;
                          float* dr = pdx + r * classes;
                          gradient_row(xr, dr, classes, row_max[r], row_log_sum[r], k, off_target);
                          dr[targets[r]] -= k * (1.f - eps);
                      });
                      return std::vector<Tensor>{dx};
                  });
}

}  // namespace attend
