// models/heads.cpp — what sits on the final hidden states h (B, T, E):
//
//   lm / seq2seq  logits = h · Wᵀ                      W = token embedding (tied) or lm_head (V, E)
//   mlm           t = Norm(act(h · W_tᵀ + b_t))        BERT's cls.predictions.transform
//                 logits = t · W_embᵀ + b              decoder tied to the word embeddings, own bias
//   classifier    p = tanh(h[:, 0] · W_pᵀ + b_p)       BERT's pooler, on the first ([CLS]) token
//                 logits = drop(p) · W_cᵀ + b_c        (B, n_classes)
//
// Every step is a differentiable op: the backward is the tape's (a tied matrix gathers the
// gradient of the embedding lookup and of the output projection in one leaf).
#include <cmath>

#include "attend/error.hpp"
#include "attend/models/transformer.hpp"
#include "attend/ops.hpp"

namespace attend {

namespace {

Tensor activate(const Tensor& x, Activation a) {
    switch (a) {
        case Activation::relu: return relu(x);
        case Activation::gelu: return gelu(x);
        case Activation::gelu_tanh: return gelu(x, GeluApproximation::tanh);
        case Activation::swiglu:
        case Activation::geglu: break;  // validate() rejects gated activations for the MLM head
    }
    ATTEND_CHECK(false, "the MLM head's transform cannot apply activation ", name_of(a));
    return {};
}

}  // namespace

MlmHead::MlmHead(const TransformerConfig& c, ParameterInit init)
    : transform(c.d_model, c.d_model, true, init), norm(c.norm, c.d_model, c.norm_eps), activation(c.activation) {
    bias = Tensor::zeros({c.vocab_size});
    bias.requires_grad_(true);
    if (!c.tie_embeddings) {
        const float bound = 1.f / std::sqrt(float(c.d_model));  // nn.Linear(E, V)
        decoder = init.uniform({c.vocab_size, c.d_model}, -bound, bound);
        decoder.requires_grad_(true);
    }
}

Tensor MlmHead::forward(const Tensor& h, const Tensor& embedding) const {
    const Tensor t = norm.forward(activate(transform.forward(h), activation));  // (B, T, E)
    return linear(t, decoder.defined() ? decoder : embedding, bias);            // (B, T, V)
}

void MlmHead::collect_parameters(const std::string& prefix, NamedParameters& out) {
    transform.collect_parameters(join_name(prefix, "transform"), out);
    norm.collect_parameters(join_name(prefix, "norm"), out);
    add_parameter(out, prefix, "bias", bias);
    add_parameter(out, prefix, "decoder.weight", decoder);
}

ClassifierHead::ClassifierHead(const TransformerConfig& c, ParameterInit init)
    : pooler(c.d_model, c.d_model, true, init), classifier(c.d_model, c.n_classes, true, init), dropout(c.dropout) {}

Tensor ClassifierHead::forward(const Tensor& h, const ForwardMode& mode) const {
    const Tensor first = h.slice(1, 0, 1).squeeze(1);                // (B, E): the [CLS] position
    const Tensor pooled = tanh(pooler.forward(first));               // (B, E)
    return classifier.forward(apply_dropout(pooled, dropout, mode));  // (B, n_classes)
}

void ClassifierHead::collect_parameters(const std::string& prefix, NamedParameters& out) {
    pooler.collect_parameters(join_name(prefix, "pooler"), out);
    classifier.collect_parameters(join_name(prefix, "classifier"), out);
}

Tensor Transformer::lm_logits(const Tensor& h) const {
    return linear(h, lm_head.defined() ? lm_head : embeddings.token.weight);  // (B, T, V)
}

Tensor Transformer::head(const Tensor& h, const ForwardMode& mode) const {
    ATTEND_CHECK(h.defined() && h.dim() == 3 && h.size(2) == config_.d_model, "a head expects h (B, T, E=",
                 config_.d_model, "), got ", h.defined() ? to_string(h.shape()) : "(undefined)");
    switch (config_.head) {
        case HeadType::lm:
        case HeadType::seq2seq: return lm_logits(h);
        case HeadType::mlm: return mlm.forward(h, embeddings.token.weight);
        case HeadType::classifier: return classifier.forward(h, mode);
        case HeadType::none: return h;
    }
    return h;
}

}  // namespace attend
