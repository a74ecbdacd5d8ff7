// nn/feed_forward.cpp — the position-wise feed-forward network. Every step is a
// differentiable op (linear, activation, mul, dropout): the backward is the tape's.
//
//   two linears:  y = linear2(drop(act(linear1(x))))          (Vaswani et al. 2017, §3.3)
//   SwiGLU:       y = down(drop(silu(gate(x)) ⊙ up(x)))        (Shazeer 2020, "GLU Variants")
//   GeGLU:        y = down(drop(gelu_tanh(gate(x)) ⊙ up(x)))   (the same paper; Gemma)
#include "attend/nn/feed_forward.hpp"

#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "ops/bias_gelu.hpp"

namespace attend {

FeedForward::FeedForward(int64_t d_model, int64_t d_ff, Activation activation, bool bias, float dropout,
                         ParameterInit init)
    : dropout(dropout), activation_(activation) {
    ATTEND_CHECK(d_model > 0 && d_ff > 0, "FeedForward needs positive widths, got d_model=", d_model, " d_ff=", d_ff);
    ATTEND_CHECK(dropout >= 0.f && dropout < 1.f, "FeedForward dropout must be in [0, 1), got ", dropout);
    // Drawn in torch's order of construction: LlamaMLP builds gate, up, down; the
    // two-linear layers build linear1 then linear2.
    if (gated()) gate = Linear(d_model, d_ff, bias, init);
    up = Linear(d_model, d_ff, bias, init);
    down = Linear(d_ff, d_model, bias, init);
}

Tensor FeedForward::forward(const Tensor& x, const ForwardMode& mode) const {
    ATTEND_CHECK(up.weight.defined(), "this FeedForward was never constructed");
    ATTEND_CHECK(x.dim() >= 1 && x.size(-1) == up.in_features(), "FeedForward expects x (..., d_model=",
                 up.in_features(), "), got ", to_string(x.shape()));
    Tensor hidden;  // (..., d_ff)
    switch (activation_) {
        case Activation::relu: hidden = relu(up.forward(x)); break;
        // With a bias, the bias rides in the activation's pass (ops/bias_gelu.hpp), not the GEMM's.
        case Activation::gelu:
        case Activation::gelu_tanh: {
            const GeluApproximation form =
                activation_ == Activation::gelu ? GeluApproximation::none : GeluApproximation::tanh;
            hidden = up.bias.defined() ? bias_gelu(linear(x, up.weight, Tensor()), up.bias, form)
                                       : gelu(up.forward(x), form);
            break;
        }
        case Activation::swiglu: {
            const auto gate_up = Linear::forward_each<2>(x, {&gate, &up});
            hidden = mul(silu(gate_up[0]), gate_up[1]);
            break;
        }
        case Activation::geglu: {
            const auto gate_up = Linear::forward_each<2>(x, {&gate, &up});
            hidden = mul(gelu(gate_up[0], GeluApproximation::tanh), gate_up[1]);
            break;
        }
    }
    return down.forward(apply_dropout(hidden, dropout, mode));  // (..., d_model)
}

void FeedForward::collect_parameters(const std::string& prefix, NamedParameters& out) {
    if (gated()) {
        gate.collect_parameters(join_name(prefix, "gate_proj"), out);
        up.collect_parameters(join_name(prefix, "up_proj"), out);
        down.collect_parameters(join_name(prefix, "down_proj"), out);
    } else {
        up.collect_parameters(join_name(prefix, "linear1"), out);
        down.collect_parameters(join_name(prefix, "linear2"), out);
    }
}

}  // namespace attend
