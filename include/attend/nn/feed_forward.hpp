// nn/feed_forward.hpp — the position-wise feed-forward network (Vaswani et al. 2017, §3.3),
// applied to every token alone:
//
//   two linears:  FF(x) = linear2(dropout(act(linear1(x))))       act ∈ {ReLU, GELU, GELU-tanh}
//                 linear1: E -> d_ff,  linear2: d_ff -> E
//   SwiGLU (Shazeer 2020; Llama):
//                 FF(x) = down(dropout(silu(gate(x)) ⊙ up(x)))
//                 gate (w1), up (w3): E -> d_ff,  down (w2): d_ff -> E
//   GeGLU (Gemma): the same with gelu_tanh in place of silu
//
// Parameter names: "linear1", "linear2" for the two-linear form (torch's
// TransformerEncoderLayer), "gate_proj", "up_proj", "down_proj" for SwiGLU (Hugging Face's
// LlamaMLP). The dropout sits where torch's TransformerEncoderLayer puts it, on the hidden
// activations; the residual dropout after the whole FF belongs to the Block.
//
// Implemented in src/nn/feed_forward.cpp.
#pragma once
#include <cstdint>
#include <string>

#include "attend/nn/block_config.hpp"
#include "attend/nn/init.hpp"
#include "attend/nn/layers.hpp"
#include "attend/nn/module.hpp"
#include "attend/random.hpp"
#include "attend/tensor.hpp"

namespace attend {

class FeedForward {
public:
    FeedForward() = default;
    // Linears initialised as nn.Linear (U(±1/√in)).
    FeedForward(int64_t d_model, int64_t d_ff, Activation activation, bool bias, float dropout, ParameterInit init);

    // x (..., d_model) -> (..., d_model).
    Tensor forward(const Tensor& x, const ForwardMode& mode = {}) const;
    void collect_parameters(const std::string& prefix, NamedParameters& out);

    Activation activation() const { return activation_; }
    bool gated() const { return is_gated(activation_); }

    // Two-linear form: up = linear1, down = linear2. SwiGLU: gate = gate_proj (w1),
    // up = up_proj (w3), down = down_proj (w2). `gate` is empty unless gated().
    Linear gate, up, down;
    float dropout = 0.f;

private:
    Activation activation_ = Activation::relu;
};

}  // namespace attend
