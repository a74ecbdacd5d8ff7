// gradcheck.hpp — finite differences against the tape's gradients. Above ops: the probe loss
// sum(f(inputs) · probe) is built with ops, so the check can differentiate it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attend/tensor.hpp"

namespace attend {

// Finite-difference check of d(sum(f(inputs) * probe))/d(inputs) against backward, in f64
// accumulation of f32 central differences (step eps). Each element passes when
//   |analytic − numeric| <= atol + rtol · |numeric|
// as PyTorch's gradcheck decides (it uses rtol 1e-3, atol 1e-5 in float64 with eps 1e-6);
// here in float32, the absolute floor is what float32 rounding alone can move the numeric
// gradient by: each output carries a relative rounding error of ~2^-24 per op it went through,
// so the probe loss L = Σ out·probe is uncertain by about noise · 2^-24 · Σ|out·probe|, and
// the central difference divides that by 2·eps:
//   atol = max(min_atol, noise · 2^-24 · Σ|out·probe| / (2·eps))
// A floor that scales with the output, not a fixed 1: the old rule, |a − n| / max(1, |n|) <=
// 1e-3, let a 10% error on gradients near 0.01 pass (test_ops_gradcheck.cpp shows one it now
// catches).
struct GradcheckTolerance {
    double rtol = 1e-3;
    double noise = 64;       // rounding steps per output (a deep stack needs more)
    double min_atol = 1e-6;  // below this, no f32 gradient of O(1) inputs is told apart from 0
};
struct GradcheckResult {
    double max_abs_error = 0;  // max |analytic − numeric|
    double atol = 0;           // the absolute floor used (see above)
    double error_ratio = 0;    // max |analytic − numeric| / (atol + rtol·|numeric|): passes when <= 1
    std::string worst;         // "input 1 [17]: analytic 0.12 numeric 0.13 (allowed 0.00014)"
    bool ok() const { return error_ratio <= 1; }
};
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          std::vector<Tensor> inputs, float eps = 1e-2f, uint64_t probe_seed = 7,
                          GradcheckTolerance tolerance = {});

}  // namespace attend
