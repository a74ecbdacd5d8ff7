// nn/multi_head_attention.hpp — multi-head attention: learned projections around scaled
// dot-product attention (Vaswani et al. 2017, §3.2.2).
//
//   Q = q_proj(query)           (B, Tq, H·Dh)   -> H heads of Dh = E / H
//   K = k_proj(key)             (B, Tk, Hkv·Dh) -> Hkv heads
//   V = v_proj(value)           (B, Tk, Hkv·Dh) -> Hkv heads
//   head_h = Attention(Q_h, K_{h / (H/Hkv)}, V_{h / (H/Hkv)})
//   output = out_proj(concat(head_1, ..., head_H))   (B, Tq, E)
//
// The four projections are Linear modules (nn/layers.hpp) named q_proj, k_proj, v_proj and
// out_proj, so parameters are "q_proj.weight", "q_proj.bias", ... as everywhere else.
//
// One module covers self-attention (query = key = value), cross-attention (key and value
// from another sequence, of widths kdim and vdim), and grouped-query attention (Hkv < H
// key/value heads shared by groups of query heads; Hkv == 1 is multi-query attention).
// Inputs are batch-first, as torch.nn.MultiheadAttention(batch_first=True).
//
// Two optional steps serve decoders:
//   - a rotary step (RoPE, set_rotary): q and k rotated by their positions between the
//     projections and attention (Llama); keys are cached already rotated;
//   - a KV cache (nn/kv_cache.hpp): self_attention() appends the new keys and values of a
//     step and attends over everything the sequence has seen; cross_attention() projects
//     the encoder memory once and reuses it.
//
// Like the other modules, a call takes a ForwardMode (nn/module.hpp): its attention path, and
// in training its generator for the attention-weight dropout (config.dropout).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attend/attention.hpp"
#include "attend/nn/init.hpp"
#include "attend/nn/kv_cache.hpp"
#include "attend/nn/layers.hpp"
#include "attend/nn/module.hpp"
#include "attend/nn/positions.hpp"
#include "attend/random.hpp"
#include "attend/tensor.hpp"

namespace attend {

struct MultiHeadAttentionConfig {
    int64_t embed_dim = 0;   // E: query width and output width
    int64_t n_heads = 0;     // H: query heads; E must be a multiple of H
    int64_t n_kv_heads = 0;  // Hkv: key/value heads; 0 means H; H must be a multiple of Hkv
    int64_t kdim = 0;        // key width; 0 means E
    int64_t vdim = 0;        // value width; 0 means E
    int64_t head_dim = 0;    // Dh; 0 means E / H (E must then be a multiple of H). Gemma: H·Dh ≠ E
    bool bias = true;        // b_q, b_k, b_v, b_o
    bool qkv_bias = false;   // b_q, b_k, b_v without b_o (Qwen2); only with bias = false
    // Self-attention only: > 0, a token sees itself and the sliding_window − 1 keys before it
    // (Mistral), with or without a KV cache. 0: no window.
    int64_t sliding_window = 0;
    // Dropout on the attention weights, as torch.nn.MultiheadAttention's `dropout`: applied
    // when the call's ForwardMode is training (its generator draws the mask), never otherwise.
    float dropout = 0.f;
};

// One self-attention call beyond its mask.
struct SelfAttentionArgs {
    // RoPE positions: token t of sequence b at position_offsets[b] + t. Empty: 0, or with a
    // cache its step_offsets(). Ignored without a rotary step.
    std::vector<int64_t> position_offsets;
    KVCache* cache = nullptr;  // decoding: append to layer `layer` and attend over the cache
    int64_t layer = 0;
    Tensor* weights = nullptr;  // receives (B, H, Tq, Tk) (the reference path); Tk = capacity with a cache
};

// One cross-attention call beyond its mask.
struct CrossAttentionArgs {
    KVCache* cache = nullptr;   // decoding: the memory's keys and values are projected once, kept for `layer`
    int64_t layer = 0;
    Tensor* weights = nullptr;  // receives (B, H, Tq, S) (the reference path)
};

class MultiHeadAttention {
public:
    // Initialised as torch.nn.MultiheadAttention: Xavier-uniform in-projections (one
    // (3E, E) matrix when they have one shape, as torch packs them; each on its own fan
    // otherwise), zero biases, W_o ~ U(−1/√E, 1/√E) (nn.Linear's default), b_o = 0.
    MultiHeadAttention(const MultiHeadAttentionConfig& config, ParameterInit init);

    // query (B, Tq, E), key (B, Tk, kdim), value (B, Tk, vdim) -> (B, Tq, E).
    // `weights`, when given, receives each head's attention weights (B, H, Tq, Tk), which
    // the reference path computes (asking for them selects it).
    Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value, const AttentionMask& mask = {},
                   const ForwardMode& mode = {}, Tensor* weights = nullptr) const;
    // Self-attention: x (B, T, E) is query, key and value (kdim == vdim == E).
    Tensor forward(const Tensor& x, const AttentionMask& mask = {}, const ForwardMode& mode = {},
                   Tensor* weights = nullptr) const;

    // Self-attention with positions and an optional KV cache. With a cache a step must be
    // open (KVCache::begin_step), x holds its Tq new tokens, and the mask comes from the
    // cache: `mask` must then be empty or only {causal = true} (what the cache implies).
    Tensor self_attention(const Tensor& x, const AttentionMask& mask, const SelfAttentionArgs& args,
                          const ForwardMode& mode = {}) const;

    // Cross-attention: query (B, Tq, E) on memory (B, S, kdim) (key = value = memory, so kdim
    // == vdim). With a cache, memory's keys and values are projected at the first call for
    // `layer` and reused after: later calls ignore `memory` (it may be undefined); a new
    // source needs KVCache::reset(). No rotary step here.
    Tensor cross_attention(const Tensor& query, const Tensor& memory, const AttentionMask& mask = {},
                           const CrossAttentionArgs& args = {}, const ForwardMode& mode = {}) const;

    // RoPE on q and k of self-attention (and of forward(query, key, value), positions from 0).
    // head_dim must be even. max_positions: size of the precomputed cos/sin tables.
    void set_rotary(float theta, RopeLayout layout, int64_t max_positions = 0, const RopeScaling& scaling = {});
    const RotaryEmbedding* rotary() const { return rotary_.get(); }

    // The module convention (nn/module.hpp): prefix + ".q_proj.weight", ".q_proj.bias", ...
    // k_proj, v_proj, out_proj; biases only as config.bias / config.qkv_bias say.
    void collect_parameters(const std::string& prefix, NamedParameters& out);

    // torch.nn.MultiheadAttention's packed form (kdim == vdim == E): in_proj_weight (3E, E)
    // holds W_q, W_k, W_v stacked by rows, in_proj_bias (3E) likewise. Biases are undefined
    // Tensors when config.bias is false. With Hkv < H the rows are E + 2·Hkv·Dh.
    void load_torch_packed(const Tensor& in_proj_weight, const Tensor& in_proj_bias, const Tensor& out_proj_weight,
                           const Tensor& out_proj_bias);
    // torch's separate form (kdim or vdim != E): q_proj_weight (E, E), k_proj_weight
    // (E, kdim), v_proj_weight (E, vdim), in_proj_bias (3E) (E + 2·Hkv·Dh rows with Hkv < H).
    void load_torch_separate(const Tensor& q_proj_weight, const Tensor& k_proj_weight, const Tensor& v_proj_weight,
                             const Tensor& in_proj_bias, const Tensor& out_proj_weight, const Tensor& out_proj_bias);

    const MultiHeadAttentionConfig& config() const { return config_; }  // zeros resolved
    int64_t head_dim() const { return config_.head_dim; }
    int64_t query_width() const { return config_.n_heads * config_.head_dim; }  // H·Dh

    // The projections. Weights are (out, in), as nn.Linear; H·Dh = E unless config.head_dim
    // says otherwise.
    Linear q_proj;    // (H·Dh, E), bias (H·Dh)
    Linear k_proj;    // (Hkv·Dh, kdim), bias (Hkv·Dh)
    Linear v_proj;    // (Hkv·Dh, vdim), bias (Hkv·Dh)
    Linear out_proj;  // (E, H·Dh), bias (E)

private:
    // softmax attention over the heads, then out_proj: (B, H, Tq, Dh) → (B, Tq, E).
    Tensor attend_and_project(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
                              const ForwardMode& mode, Tensor* weights) const;
    // Its two halves: the options for this mode, and out_proj over the heads' output.
    AttentionOptions attention_options(const ForwardMode& mode, bool want_weights) const;
    Tensor project(const AttentionOutput& heads, Tensor* weights) const;

    AttentionMask windowed(const AttentionMask& mask) const;  // + config.sliding_window

    MultiHeadAttentionConfig config_;
    std::shared_ptr<const RotaryEmbedding> rotary_;  // null: no rotary step
};

}  // namespace attend
