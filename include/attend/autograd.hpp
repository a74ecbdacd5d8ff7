// autograd.hpp — the tape: every differentiable op records a Node on its output.
//
// A Node knows the tensors it was computed from and a function that maps the gradient of
// its output to the gradients of those inputs (the vector–Jacobian product). backward()
// walks the graph in reverse topological order, summing gradients where paths meet, and
// deposits them in the leaves (tensors with requires_grad and no grad_fn).
#pragma once
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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
bool needs_grad(std::span<const Tensor> inputs);
inline bool needs_grad(std::initializer_list<Tensor> inputs) {
    return needs_grad(std::span<const Tensor>(inputs.begin(), inputs.size()));
}
inline bool needs_grad(const std::vector<Tensor>& inputs) { return needs_grad(std::span<const Tensor>(inputs)); }

// Attaches a Node to `output` (what record() does once it knows one is needed).
Tensor attach_node(Tensor output, std::string_view name, std::vector<Tensor> inputs, BackwardFn backward);

// Attach a Node to `output` when needs_grad(inputs); returns `output`. Nothing is built
// otherwise — no Node, no copy of the inputs, no closure on the heap — so an op under
// NoGradGuard (inference, decoding) records nothing and allocates nothing for it.
// A backward closure must not capture `output` itself (that would be a reference cycle);
// capture `output.detach()` instead, which shares the data but not the history.
template <class Backward>
Tensor record(Tensor output, std::string_view name, std::initializer_list<Tensor> inputs, Backward&& backward) {
    if (!needs_grad(inputs)) return output;
    return attach_node(std::move(output), name, std::vector<Tensor>(inputs), BackwardFn(std::forward<Backward>(backward)));
}
template <class Backward>
Tensor record(Tensor output, std::string_view name, const std::vector<Tensor>& inputs, Backward&& backward) {
    if (!needs_grad(inputs)) return output;
    return attach_node(std::move(output), name, inputs, BackwardFn(std::forward<Backward>(backward)));
}

}  // namespace attend
