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
#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"

namespace attend {

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
        float m = xr[0];
        for (int64_t c = 1; c < classes; ++c) m = std::max(m, xr[c]);
        float sum_exp = 0.f, sum_shifted = 0.f;  // Σ exp(x − m), Σ (x − m)
        for (int64_t c = 0; c < classes; ++c) {
            sum_exp += std::exp(xr[c] - m);
            sum_shifted += xr[c] - m;
        }
        const float log_sum = std::log(sum_exp);
        row_max[r] = m;
        row_log_sum[r] = log_sum;
        const double nll = double(log_sum) - double(xr[targets[r]] - m);  // −log p_t
        const double smooth = double(log_sum) - double(sum_shifted) / double(classes);  // mean_c −log p_c
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
                          // p_c from the saved m and log Σ: exp((x − m) − log Σ) stays exact at ±1e4
                          for (int64_t c = 0; c < classes; ++c)
                              dr[c] = k * (std::exp((xr[c] - row_max[r]) - row_log_sum[r]) - off_target);
                          dr[targets[r]] -= k * (1.f - eps);
                      });
                      return std::vector<Tensor>{dx};
                  });
}

}  // namespace attend
