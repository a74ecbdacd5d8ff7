// ops/gradcheck.cpp — finite differences against backward (see attend/gradcheck.hpp).
//
// L(inputs) = Σ f(inputs) ⊙ P for a fixed random probe P, so every output element matters.
// Numeric: ∂L/∂x_i ≈ (L(x + ε e_i) − L(x − ε e_i)) / 2ε, accumulated in double.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "attend/gradcheck.hpp"

#include "attend/autograd.hpp"
#include "attend/ops.hpp"
#include "attend/random.hpp"

namespace attend {

static double probe_loss(const Tensor& out, const std::vector<float>& probe, double* magnitude = nullptr) {
    const std::vector<float> values = out.to_vector();
    double s = 0, m = 0;
    for (size_t i = 0; i < values.size(); ++i) s += double(values[i]) * probe[i], m += std::fabs(double(values[i]) * probe[i]);
    if (magnitude) *magnitude = m;
    return s;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          std::vector<Tensor> inputs, float eps, uint64_t probe_seed, GradcheckTolerance tol) {
    for (Tensor& t : inputs) {
        t = t.detach().clone();
        t.requires_grad_(true);
    }
    Tensor out = f(inputs);
    Generator gen(probe_seed);
    std::vector<float> probe(out.numel());
    for (float& p : probe) p = gen.uniform(-1.f, 1.f);
    Tensor probe_t = Tensor::from_vector(out.shape(), probe);
    sum(mul(out, probe_t)).backward();

    GradcheckResult result;
    double magnitude = 0;
    {
        NoGradGuard no_grad;
        probe_loss(out, probe, &magnitude);
    }
    // float32 rounding's reach into the central difference (attend/autograd.hpp).
    result.atol = std::max(tol.min_atol, tol.noise * std::ldexp(1.0, -24) * magnitude / (2.0 * eps));
    NoGradGuard no_grad;
    for (size_t k = 0; k < inputs.size(); ++k) {
        if (!inputs[k].requires_grad()) continue;
        Tensor analytic = inputs[k].grad();
        std::vector<float> a = analytic.defined() ? analytic.to_vector() : std::vector<float>(inputs[k].numel(), 0.f);
        float* x = inputs[k].data();
        for (int64_t i = 0; i < inputs[k].numel(); ++i) {
            const float saved = x[i];
            x[i] = saved + eps;
            double plus = probe_loss(f(inputs), probe);
            x[i] = saved - eps;
            double minus = probe_loss(f(inputs), probe);
            x[i] = saved;
            double numeric = (plus - minus) / (2.0 * eps);
            double abs_err = std::fabs(numeric - a[i]);
            const double allowed = result.atol + tol.rtol * std::fabs(numeric);
            const double ratio = abs_err / allowed;
            if (ratio > result.error_ratio || std::isnan(ratio)) {
                std::ostringstream w;
                w << "input " << k << " [" << i << "]: analytic " << a[i] << " numeric " << numeric << " (allowed "
                  << allowed << ")";
                result.worst = w.str();
                result.error_ratio = std::isnan(ratio) ? INFINITY : ratio;
            }
            result.max_abs_error = std::max(result.max_abs_error, abs_err);
        }
    }
    return result;
}

}  // namespace attend
