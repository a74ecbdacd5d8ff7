// train/training_config.cpp — the model `attend train` builds from its options
// (train/trainer.hpp's training_config): nanoGPT's GPT, BERT, or Vaswani's seq2seq.
#include <cmath>

#include "attend/error.hpp"
#include "attend/train/trainer.hpp"

namespace attend {

TransformerConfig training_config(const TrainOptions& o, int64_t vocab_size) {
    TransformerConfig c;
    c.vocab_size = vocab_size;
    c.d_model = o.dim;
    c.n_layers = o.layers;
    c.n_heads = o.heads;
    c.n_kv_heads = o.kv_heads;
    c.d_ff = 4 * o.dim;
    c.max_positions = o.block_size;
    c.dropout = o.dropout;
    c.attention_dropout = o.attention_dropout;
    c.norm = NormType::layer_norm;
    c.activation = Activation::gelu;
    c.positions = PositionType::learned;
    c.bias = true;
    c.tie_embeddings = true;
    c.init = InitScheme::normal;
    c.init_std = 0.02f;
    switch (o.arch) {
    case TrainArch::gpt:  // nanoGPT: pre-norm, GELU, learned positions, tied head, scaled residual init
        c.name = "gpt";
        c.shape = ModelShape::decoder, c.head = HeadType::lm;
        c.norm_placement = NormPlacement::pre, c.final_norm = true;
        c.init_scale_residual = true;
        break;
    case TrainArch::bert:  // BERT: post-norm, a norm on the embeddings, the MLM head
        c.name = "bert";
        c.shape = ModelShape::encoder, c.head = HeadType::mlm;
        c.norm_placement = NormPlacement::post, c.final_norm = false, c.embedding_norm = true;
        c.norm_eps = 1e-12f;
        break;
    case TrainArch::seq2seq:  // Vaswani et al. with pre-norm (trains without warm-up tricks)
        c.name = "seq2seq";
        c.shape = ModelShape::encoder_decoder, c.head = HeadType::seq2seq;
        c.norm_placement = NormPlacement::pre, c.final_norm = true;
        c.positions = PositionType::sinusoidal;
        c.embedding_scale = std::sqrt(float(o.dim));
        c.init_std = 1.f / std::sqrt(float(o.dim));  // embeddings scaled by √E: keep them O(1)
        break;
    }
    if (!o.norm_placement.empty()) {
        ATTEND_CHECK(o.norm_placement == "pre" || o.norm_placement == "post", "unknown norm placement \"",
                     o.norm_placement, "\" (pre or post)");
        c.norm_placement = o.norm_placement == "pre" ? NormPlacement::pre : NormPlacement::post;
        c.final_norm = c.norm_placement == NormPlacement::pre;  // pre-norm stacks end in a norm
    }
    c.validate();
    return c;
}

}  // namespace attend
