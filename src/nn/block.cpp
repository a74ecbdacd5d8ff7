// nn/block.cpp — one Transformer layer, in either norm order (nn/block.hpp):
//
//   pre-norm:   h = x + drop(f(Norm(x)))       y after each sub-layer f in turn
//   post-norm:  h = Norm(x + drop(f(x)))
//
// (and, with config.attention_dropout, dropout on the attention weights inside f)
//
// with f = self-attention, then cross-attention on the memory (decoders of an
// encoder–decoder), then the feed-forward network. Every step is a differentiable op or
// module: the backward is the tape's.
#include "attend/nn/block.hpp"

#include "attend/error.hpp"
#include "attend/ops.hpp"

namespace attend {

namespace {

// Self- and cross-attention alike: width E (the memory has the model's width too), H heads,
// kv_heads() key/value heads — one config field governs every key/value projection.
MultiHeadAttentionConfig attention_config(const BlockConfig& c) {
    ATTEND_CHECK(c.d_model > 0 && c.n_heads > 0 && c.d_ff > 0, "a Block needs d_model, n_heads and d_ff > 0, got d_model=",
                 c.d_model, " n_heads=", c.n_heads, " d_ff=", c.d_ff);
    MultiHeadAttentionConfig a;
    a.embed_dim = c.d_model;
    a.n_heads = c.n_heads;
    a.n_kv_heads = c.kv_heads();
    a.head_dim = c.head_size;
    a.bias = c.bias;
    a.qkv_bias = c.qkv_bias;
    a.dropout = c.attention_dropout;
    return a;
}

MultiHeadAttentionConfig self_attention_config(const BlockConfig& c) {
    MultiHeadAttentionConfig a = attention_config(c);
    a.sliding_window = c.sliding_window;  // a window over the sequence's own past: self-attention only
    return a;
}

}  // namespace

Block::Block(const BlockConfig& config, const BlockOptions& options, ParameterInit init)
    : self_attn(self_attention_config(config), init),
      dropout(config.dropout),
      options_(options),
      placement_(config.norm_placement) {
    ATTEND_CHECK(config.dropout >= 0.f && config.dropout < 1.f, "dropout must be in [0, 1), got ", config.dropout);
    const int64_t E = config.d_model;
    if (config.positions == PositionType::rope)
        self_attn.set_rotary(config.rope_theta, config.rope_layout, config.max_positions, config.rope_scaling);
    self_attn_norm = Norm(config.norm, E, config.norm_eps);
    if (options.cross_attention) {
        cross_attn.emplace(attention_config(config), init);
        cross_attn_norm = Norm(config.norm, E, config.norm_eps);
    }
    ff = FeedForward(E, config.d_ff, config.activation, config.bias, config.dropout, init);
    ff_norm = Norm(config.norm, E, config.norm_eps);
}

Tensor Block::forward(const Tensor& x, const BlockArgs& args, const ForwardMode& mode) const {
    ATTEND_CHECK(x.defined() && x.dim() == 3 && x.size(2) == self_attn.config().embed_dim,
                 "a Block expects x (B, T, E=", self_attn.config().embed_dim, "), got ",
                 x.defined() ? to_string(x.shape()) : "(undefined)");
    ATTEND_CHECK(!args.cache || options_.causal,
                 "a KV cache is for causal self-attention (decoders); this block is not causal");
    ATTEND_CHECK(options_.cross_attention || !args.memory.defined(),
                 "memory was given to a block without cross-attention");

    AttentionMask self_mask = args.self_mask;
    if (options_.causal) self_mask.causal = true;
    SelfAttentionArgs self_args;
    self_args.position_offsets = args.position_offsets;
    self_args.cache = args.cache;
    self_args.layer = args.layer;
    self_args.weights = args.self_weights;
    const CrossAttentionArgs cross_args{.cache = args.cache, .layer = args.layer, .weights = args.cross_weights};

    // Attention-weight dropout draws from the mode's stream, as the other dropouts, in training only.
    const auto self_attention = [&](const Tensor& h) { return self_attn.self_attention(h, self_mask, self_args, mode); };
    const auto cross_attention = [&](const Tensor& h) {
        return cross_attn->cross_attention(h, args.memory, args.memory_mask, cross_args, mode);
    };
    const auto feed_forward = [&](const Tensor& h) { return ff.forward(h, mode); };

    // One residual sub-layer in the block's order.
    const auto sublayer = [&](const Tensor& h, const Norm& norm, const auto& f) {
        if (placement_ == NormPlacement::pre) return add(h, apply_dropout(f(norm.forward(h)), dropout, mode));
        return norm.forward(add(h, apply_dropout(f(h), dropout, mode)));
    };

    Tensor h = sublayer(x, self_attn_norm, self_attention);
    if (options_.cross_attention) h = sublayer(h, cross_attn_norm, cross_attention);
    return sublayer(h, ff_norm, feed_forward);  // (B, T, E)
}

void Block::collect_parameters(const std::string& prefix, NamedParameters& out) {
    self_attn.collect_parameters(join_name(prefix, "self_attn"), out);
    self_attn_norm.collect_parameters(join_name(prefix, "self_attn_norm"), out);
    if (cross_attn) {
        cross_attn->collect_parameters(join_name(prefix, "cross_attn"), out);
        cross_attn_norm.collect_parameters(join_name(prefix, "cross_attn_norm"), out);
    }
    ff.collect_parameters(join_name(prefix, "ff"), out);
    ff_norm.collect_parameters(join_name(prefix, "ff_norm"), out);
}

}  // namespace attend
