// nn/block_config.hpp — what one Transformer block needs to know, and the choices it names.
//
// GPT-2, BERT, Llama and the 2017 Transformer build their blocks from the same parts; they
// differ in the fields below (docs/architectures.md). A model's config (models/config.hpp,
// TransformerConfig) is a BlockConfig plus what lies outside the blocks (vocabulary, depth,
// heads, embeddings, initialisation), so each field has one home.
#pragma once
#include <cstdint>
#include <vector>

namespace attend {

enum class NormType { layer_norm, rms_norm };
enum class NormPlacement { pre, post };  // pre: x + f(norm(x)) (GPT-2, Llama); post: norm(x + f(x)) (BERT, 2017)
// swiglu: silu(gate(x)) ⊙ up(x) (Llama); geglu: gelu_tanh(gate(x)) ⊙ up(x) (Gemma). Both gated.
enum class Activation { relu, gelu, gelu_tanh, swiglu, geglu };
inline bool is_gated(Activation a) { return a == Activation::swiglu || a == Activation::geglu; }
// Only rope acts inside a block (on q and k); sinusoidal and learned act on the embeddings.
enum class PositionType { none, sinusoidal, learned, rope };
enum class RopeLayout { interleaved, rotate_half };  // llama2.c/Meta pairs (2i, 2i+1) vs HF halves (i, i+D/2)
// RoPE frequency scaling, as Hugging Face's config.json "rope_scaling" spells it (rope_type):
//   none      θ^{−2i/D} as it is
//   linear    every frequency divided by `factor` (positions interpolated)
//   llama3    Llama 3.1: with wavelength λ_i = 2π/ω_i, L = original_max_position_embeddings,
//             frequencies with λ > L/low_freq_factor divided by `factor`, those with
//             λ < L/high_freq_factor kept, those between blended:
//             s = (L/λ − low)/(high − low), ω' = (1 − s)·ω/factor + s·ω
//   longrope  Phi-3 ("su" in older configs): ω_i / short_factor[i] while a sequence fits
//             original_max_position_embeddings, ω_i / long_factor[i] once a forward call
//             reaches past it (position + 1 > L); cos and sin are multiplied by
//             attention_factor (HF: √(1 + ln(max_positions/L) / ln L) when that ratio > 1).
enum class RopeScalingType { none, linear, llama3, longrope };

struct RopeScaling {
    RopeScalingType rope_type = RopeScalingType::none;
    float factor = 1.f;                         // linear, llama3
    float low_freq_factor = 1.f;                // llama3
    float high_freq_factor = 4.f;               // llama3
    int64_t original_max_position_embeddings = 0;  // llama3, longrope: L
    std::vector<float> short_factor, long_factor;  // longrope: head_dim/2 each
    float attention_factor = 1.f;               // longrope: scale on cos and sin (resolved, never "absent")

    bool operator==(const RopeScaling&) const = default;
};

struct BlockConfig {
    int64_t d_model = 0;         // residual width E
    int64_t n_heads = 0;
    int64_t n_kv_heads = 0;      // 0 means n_heads (GQA when smaller)
    int64_t head_size = 0;       // per-head width (HF's head_dim); 0 means d_model / n_heads.
                                 // Gemma and Mistral-Nemo set it: q_proj is then (n_heads·head_size, E)
    int64_t d_ff = 0;            // feed-forward hidden width
    int64_t max_positions = 0;   // learned positions / RoPE cache length

    NormType norm = NormType::layer_norm;
    NormPlacement norm_placement = NormPlacement::pre;
    float norm_eps = 1e-5f;
    Activation activation = Activation::gelu;
    PositionType positions = PositionType::learned;
    RopeLayout rope_layout = RopeLayout::rotate_half;
    float rope_theta = 10000.f;
    RopeScaling rope_scaling;        // HF's rope_scaling (none: plain RoPE)
    int64_t sliding_window = 0;      // HF's sliding_window: > 0, each token attends to itself and the
                                     // sliding_window − 1 tokens before it (Mistral); 0: no window
    bool bias = true;                // biases on attention and feed-forward linears
    bool qkv_bias = false;           // biases on q/k/v even when `bias` is false (Qwen2; o_proj and MLP have none)
    float dropout = 0.f;             // on embeddings and sub-layer outputs (Vaswani et al. §5.4)
    float attention_dropout = 0.f;   // on the attention weights (BERT, GPT-2: attention_probs_dropout_prob, attn_pdrop)

    int64_t head_dim() const { return head_size ? head_size : d_model / n_heads; }
    int64_t attention_width() const { return n_heads * head_dim(); }  // q_proj rows, o_proj columns
    int64_t kv_heads() const { return n_kv_heads ? n_kv_heads : n_heads; }
};

}  // namespace attend
