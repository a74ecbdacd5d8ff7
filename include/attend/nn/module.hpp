// nn/module.hpp — the small conventions every module in src/nn follows.
//
// No base class: a module is a plain class whose parameters are public leaf Tensors
// (requires_grad, no grad_fn), and which lists them with
//
//     void collect_parameters(const std::string& prefix, NamedParameters& out);
//
// appending (prefix + "." + name, &tensor) for each parameter it owns, then asking its
// submodules with the longer prefix. Names follow what torch would print for the same
// structure ("self_attn.q_proj.weight"), so loaders and optimizers speak one language.
// Pointers, not copies: an optimizer or a loader updates the module's own tensors.
//
// Dropout is the one piece of behaviour that differs between training and inference; like
// torch's module.train()/eval(), the caller says which, and hands over the random stream:
// forward functions that can drop take a `const ForwardMode&`.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "attend/attention.hpp"
#include "attend/random.hpp"
#include "attend/tensor.hpp"

namespace attend {

using NamedParameters = std::vector<std::pair<std::string, Tensor*>>;

// "a.b" from ("a", "b"); just "b" when the prefix is empty.
std::string join_name(const std::string& prefix, const std::string& name);

// Append (join_name(prefix, name), &t) when t is defined (an absent bias is not listed).
void add_parameter(NamedParameters& out, const std::string& prefix, const std::string& name, Tensor& t);

// Every parameter of `module`, under `prefix`.
template <class Module>
NamedParameters parameters_of(Module& module, const std::string& prefix = "") {
    NamedParameters out;
    module.collect_parameters(prefix, out);
    return out;
}

// Copy `source` into the parameter `target` in place (its identity, requires_grad and any
// handle held elsewhere stay valid). Shapes must match; `name` is used in the error.
void copy_parameter(Tensor& target, const Tensor& source, const std::string& name);

// For each (name, p) in `params`, copy source[source_prefix + name] into p. A parameter
// missing from `source` is an Error naming it; so is a shape mismatch. When `strict`, a
// tensor of `source` under `source_prefix` that no parameter took is an Error too.
// Everything is checked before anything is written.
void load_parameters(const NamedParameters& params, const std::map<std::string, Tensor>& source,
                     const std::string& source_prefix = "", bool strict = true);

// Σ numel over the parameters.
int64_t count_parameters(const NamedParameters& params);

// Forget every parameter's gradient.
void zero_grad(const NamedParameters& params);

// How a forward pass runs: torch's train()/eval() switch, the stream dropout draws from,
// and which attention path the attention layers take.
struct ForwardMode {
    bool training = false;            // dropout active (inference: identity)
    Generator* generator = nullptr;   // dropout's random stream; required when training with p > 0
    AttentionPath attention_path = AttentionPath::fused;
};

// dropout(x, p) as the mode says: identity unless mode.training and p > 0; an Error when
// training with p > 0 and no generator.
Tensor apply_dropout(const Tensor& x, float p, const ForwardMode& mode);

}  // namespace attend
