// autograd/tape.cpp — recording nodes and running the reverse pass.
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"
#include "core/tensor_impl.hpp"

namespace attend {

static thread_local bool g_grad_enabled = true;

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool needs_grad(std::span<const Tensor> inputs) {
    if (!g_grad_enabled) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

// Declared with Tensor (attend/tensor.hpp); here because its message names the tape's node.
Tensor& Tensor::requires_grad_(bool on) {
    ATTEND_CHECK(!grad_fn(), "requires_grad_ is for leaf tensors; this one was computed by ", grad_fn()->name);
    impl_->requires_grad = on;
    return *this;
}

Tensor attach_node(Tensor output, std::string_view name, std::vector<Tensor> inputs, BackwardFn backward) {
    auto node = std::make_shared<Node>();
    node->name = std::string(name);
    node->inputs = std::move(inputs);
    node->backward = std::move(backward);
    output.set_grad_fn(std::move(node));
    return output;
}

// a + b for two gradients of one shape. Written here rather than with ops' add (the same
// float sums, element by element) so that the tape stands below ops.
static Tensor sum_of(const Tensor& a, const Tensor& b) {
    ATTEND_CHECK(a.shape() == b.shape(), "gradients of shapes ", to_string(a.shape()), " and ",
                 to_string(b.shape()), " cannot be summed");
    const Tensor x = a.contiguous(), y = b.contiguous();
    Tensor out = Tensor::empty(x.shape());
    const float* px = x.data();
    const float* py = y.data();
    float* po = out.data();
    const int64_t n = out.numel();
    parallel_loop(n, n, [&](int64_t i) { po[i] = px[i] + py[i]; });
    return out;
}

// into + g without recording. A first gradient becomes the leaf's .grad as it is when
// nothing else can reach it (a fresh product, the common case: no 42 MB copy of a 10 M
// parameter model's gradients every step); otherwise it is copied — the caller's seed, a
// tensor a backward function passed to two inputs, or a view must not alias a leaf's .grad
// (optimizers and clipping update .grad in place). Callers move g in, so their handle does
// not count.
static Tensor accumulate_leaf(const Tensor& into, Tensor g) {
    if (!into.defined()) return g.sole_owner() ? g : g.clone();
    return sum_of(into, g);
}

void Tensor::backward(const Tensor& grad_output) const {
    Tensor seed = grad_output;
    if (!seed.defined()) {
        ATTEND_CHECK(numel() == 1, "backward() without a gradient needs a one-element tensor, got shape ",
                     to_string(shape()));
        seed = Tensor::ones(shape());
    }
    ATTEND_CHECK(seed.shape() == shape(), "gradient shape ", to_string(seed.shape()),
                 " does not match tensor shape ", to_string(shape()));
    NoGradGuard no_grad;

    if (!grad_fn()) {  // a leaf: its gradient is the seed itself
        if (requires_grad()) set_grad(accumulate_leaf(grad(), seed));
        return;
    }

    // Topological order of the nodes reachable from this tensor (iterative DFS, post-order).
    std::vector<Node*> order;
    std::unordered_set<Node*> seen;
    std::vector<std::pair<Node*, size_t>> stack{{grad_fn().get(), 0}};
    seen.insert(grad_fn().get());
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < node->inputs.size()) {
            const Tensor& in = node->inputs[next++];
            if (in.defined() && in.grad_fn() && seen.insert(in.grad_fn().get()).second)
                stack.push_back({in.grad_fn().get(), 0});
        } else {
            order.push_back(node);
            stack.pop_back();
        }
    }

    std::unordered_map<Node*, Tensor> pending{{grad_fn().get(), seed}};
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Node* node = *it;
        Tensor g = pending[node];
        pending.erase(node);
        if (!g.defined()) continue;
        std::vector<Tensor> grads;
        {
            // One scope for every op's backward; `absorb`: the forward ops a backward is
            // written with count as "<op> backward", not as themselves.
            std::optional<ProfileScope> scope;
            if (profile::enabled()) scope.emplace(node->name + " backward", profile::Kind::op, /*absorb=*/true);
            grads = node->backward(g);
        }
        ATTEND_CHECK(grads.size() == node->inputs.size(), "op ", node->name, " returned ", grads.size(),
                     " gradients for ", node->inputs.size(), " inputs");
        const ProfileScope accumulate("grad accumulate", profile::Kind::op, /*absorb=*/true);
        for (size_t i = 0; i < grads.size(); ++i) {
            const Tensor& in = node->inputs[i];
            if (!in.defined() || !in.requires_grad() || !grads[i].defined()) continue;
            ATTEND_CHECK(grads[i].shape() == in.shape(), "op ", node->name, " produced a gradient of shape ",
                         to_string(grads[i].shape()), " for input ", i, " of shape ", to_string(in.shape()));
            if (in.grad_fn()) {
                Tensor& slot = pending[in.grad_fn().get()];  // intermediate: no copy needed
                slot = slot.defined() ? sum_of(slot, grads[i]) : grads[i];
            } else {
                in.set_grad(accumulate_leaf(in.grad(), std::move(grads[i])));
            }
        }
    }
}

}  // namespace attend
