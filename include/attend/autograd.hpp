// autograd.hpp — the tape: every differentiable op records a Node on its output.
//
// A Node knows the tensors it was computed from and a function that maps the gradient of
// its output to the gradients of those inputs (the vector–Jacobian product). backward()
// walks the graph in reverse topological order, summing gradients where paths meet, and
// deposits them in the leaves (tensors with requires_grad and no grad_fn).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "attend/tensor.hpp"

namespace attend {

// Given dL/d(output), return dL/d(input_i) for each input (an undefined Tensor where an
// input needs none). Runs with gradient recording off.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
    std::string name;            // the op, for error messages and debugging
    std::vector<Tensor> inputs;  // what the output was computed from
    BackwardFn backward;
};

bool grad_enabled();

// Disables recording in its scope (inference, optimizer steps, backward itself).
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// True when recording is on and some input requires a gradient.
bool needs_grad(const std::vector<Tensor>& inputs);

// Attach a Node to `output` when needs_grad(inputs); returns `output`.
// A backward closure must not capture `output` itself (that would be a reference cycle);
// capture `output.detach()` instead, which shares the data but not the history.
Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs, BackwardFn backward);

// Finite-difference check of d(sum(f(inputs) * probe))/d(inputs) against backward, in f64
// accumulation of f32 central differences. Returns the worst relative error found.
struct GradcheckResult {
    double max_abs_error = 0;
    double max_rel_error = 0;
    std::string worst;  // "input 1 [17]: analytic 0.12 numeric 0.13"
};
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          std::vector<Tensor> inputs, float eps = 1e-2f, uint64_t probe_seed = 7);

}  // namespace attend
