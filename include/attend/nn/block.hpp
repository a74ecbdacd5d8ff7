// nn/block.hpp — one Transformer layer, every architecture's: self-attention (causal or
// not), an optional cross-attention on an encoder's output, and a feed-forward network,
// each wrapped in a residual connection with a norm.
//
//   pre-norm  (GPT-2, Llama; torch norm_first=True):
//       h = x + drop(SelfAttn(Norm₁(x)))
//       h = h + drop(CrossAttn(Norm₂(h), memory))        cross-attention blocks only
//       y = h + drop(FF(Norm₃(h)))
//   post-norm (Vaswani et al. 2017, BERT; torch's default):
//       h = Norm₁(x + drop(SelfAttn(x)))
//       h = Norm₂(h + drop(CrossAttn(h, memory)))
//       y = Norm₃(h + drop(FF(h)))
//
// `drop` is the residual dropout (p = config.dropout, as torch's dropout1/2/3); FeedForward
// also drops its hidden activations with the same p. config.attention_dropout drops the
// attention weights (torch's MultiheadAttention(dropout=p)) inside the attention kernel,
// which draws the mask per tile without building the weights (attention/dropout.hpp).
//
// From the config: d_model, n_heads, kv_heads() (GQA), d_ff, norm, norm_placement, norm_eps,
// activation, bias, dropout, and positions == rope (with rope_theta, rope_layout,
// max_positions) for the rotary step inside self-attention. The other position schemes
// act on the embeddings, outside the blocks.
//
// Parameter names (collect_parameters), under the block's prefix:
//   self_attn.{q,k,v,out}_proj.{weight,bias}   self_attn_norm.{weight,bias}
//   cross_attn.{q,k,v,out}_proj.{weight,bias}  cross_attn_norm.{weight,bias}   (cross only)
//   ff.{linear1,linear2}.{weight,bias}  or  ff.{gate_proj,up_proj,down_proj}.{weight,bias}
//   ff_norm.{weight,bias}
// (biases only with config.bias; RMSNorm has no bias.) torch's TransformerDecoderLayer calls
// them self_attn, multihead_attn, linear1/linear2, norm1, norm2, norm3.
//
// Implemented in src/nn/block.cpp.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attend/attention.hpp"
#include "attend/nn/block_config.hpp"
#include "attend/nn/feed_forward.hpp"
#include "attend/nn/init.hpp"
#include "attend/nn/kv_cache.hpp"
#include "attend/nn/layers.hpp"
#include "attend/nn/module.hpp"
#include "attend/nn/multi_head_attention.hpp"
#include "attend/random.hpp"
#include "attend/tensor.hpp"

namespace attend {

struct BlockOptions {
    bool causal = false;           // self-attention sees only earlier positions (decoders)
    bool cross_attention = false;  // a cross-attention sub-layer on `memory` (encoder–decoder decoders)
};

// What one forward call needs besides x.
struct BlockArgs {
    // Self-attention mask: key padding (key_lengths) and anything else; the block adds
    // causal itself when BlockOptions::causal. With a cache, must be empty or only causal:
    // the cache supplies the mask.
    AttentionMask self_mask;
    Tensor memory;               // (B, S, E) encoder output, for cross-attention
    AttentionMask memory_mask;   // which memory positions may be seen (key_lengths for a padded source)
    // RoPE positions: token t of sequence b at position_offsets[b] + t. Empty: from 0, or the
    // cache's step offsets when decoding.
    std::vector<int64_t> position_offsets;
    KVCache* cache = nullptr;  // decoding: a step must be open (KVCache::begin_step)
    int64_t layer = 0;         // this block's index in the cache
    Tensor* self_weights = nullptr;   // receives the self-attention weights (B, H, Tq, Tk)
    Tensor* cross_weights = nullptr;  // receives the cross-attention weights (B, H, Tq, S)
};

class Block {
public:
    // Parameters initialised as torch's layers do: attention as nn.MultiheadAttention,
    // linears as nn.Linear, norms to 1 and 0. A model's TransformerConfig is a BlockConfig;
    // its validate() is not called here (the model does); the fields the block reads are checked.
    Block(const BlockConfig& config, const BlockOptions& options, ParameterInit init);

    // x (B, T, E) -> (B, T, E).
    Tensor forward(const Tensor& x, const BlockArgs& args = {}, const ForwardMode& mode = {}) const;
    void collect_parameters(const std::string& prefix, NamedParameters& out);

    const BlockOptions& options() const { return options_; }
    NormPlacement norm_placement() const { return placement_; }

    MultiHeadAttention self_attn;
    Norm self_attn_norm;
    std::optional<MultiHeadAttention> cross_attn;  // when options.cross_attention
    Norm cross_attn_norm;                          // when options.cross_attention
    FeedForward ff;
    Norm ff_norm;
    float dropout = 0.f;  // residual dropout

private:
    BlockOptions options_;
    NormPlacement placement_;
};

}  // namespace attend
