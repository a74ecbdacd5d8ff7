// models/config.hpp — one configuration, every architecture.
//
// GPT-2, BERT, Llama and the encoder–decoder Transformer are the same machine:
// tokens → embeddings (+ positions) → blocks of attention and feed-forward with residuals
// and norms → a head. They differ only in the fields below (see docs/architectures.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attend {

enum class NormType { layer_norm, rms_norm };
enum class NormPlacement { pre, post };  // pre: x + f(norm(x)) (GPT-2, Llama); post: norm(x + f(x)) (BERT, 2017)
// swiglu: silu(gate(x)) ⊙ up(x) (Llama); geglu: gelu_tanh(gate(x)) ⊙ up(x) (Gemma). Both gated.
enum class Activation { relu, gelu, gelu_tanh, swiglu, geglu };
inline bool is_gated(Activation a) { return a == Activation::swiglu || a == Activation::geglu; }
enum class PositionType { none, sinusoidal, learned, rope };
enum class RopeLayout { interleaved, rotate_half };  // llama2.c/Meta pairs (2i, 2i+1) vs HF halves (i, i+D/2)
enum class ModelShape { encoder, decoder, encoder_decoder };
enum class HeadType { none, lm, mlm, classifier, seq2seq };
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

// How a fresh model's parameters are drawn (each family's published recipe):
//   torch_default  what the torch modules do (nn.Linear U(±1/√in), nn.MultiheadAttention, N(0, 1) embeddings)
//   normal         GPT-2, BERT, Llama: every matrix and embedding N(0, init_std²), biases 0, norms 1
//   xavier         Vaswani et al. 2017 (as the Annotated Transformer): Xavier-uniform on every matrix
enum class InitScheme { torch_default, normal, xavier };

// The largest sizes a config may give: beyond any published model (vocabularies reach ~256 K,
// widths 16 K, depths ~128), and small enough that a config read from a hostile file cannot
// ask for an absurd model before its weights are checked against the file (io/model_loader.cpp
// then holds the parameter count to the values the file really has).
struct ConfigLimits {
    static constexpr int64_t vocab_size = int64_t(1) << 23;      // 8 M tokens
    static constexpr int64_t d_model = int64_t(1) << 16;         // 65 536
    static constexpr int64_t n_layers = 1024;                    // per stack
    static constexpr int64_t d_ff = int64_t(1) << 20;            // 1 M
    static constexpr int64_t max_positions = int64_t(1) << 24;   // 16 M
    static constexpr int64_t type_vocab_size = int64_t(1) << 16;
    static constexpr int64_t n_classes = int64_t(1) << 20;
};

struct TransformerConfig {
    ModelShape shape = ModelShape::decoder;
    HeadType head = HeadType::lm;

    int64_t vocab_size = 0;
    int64_t d_model = 0;         // residual width E
    int64_t n_layers = 0;        // decoder layers (or encoder layers for an encoder)
    int64_t n_encoder_layers = 0;  // encoder_decoder only; 0 means n_layers
    int64_t n_heads = 0;
    int64_t n_kv_heads = 0;      // 0 means n_heads (GQA when smaller)
    int64_t head_size = 0;       // per-head width (HF's head_dim); 0 means d_model / n_heads.
                                 // Gemma and Mistral-Nemo set it: q_proj is then (n_heads·head_size, E)
    int64_t d_ff = 0;            // feed-forward hidden width
    int64_t max_positions = 0;   // learned positions / RoPE cache length
    int64_t type_vocab_size = 0; // BERT token types (segment embeddings); 0 = none

    NormType norm = NormType::layer_norm;
    NormPlacement norm_placement = NormPlacement::pre;
    bool final_norm = true;          // a norm after the last block (pre-norm models)
    bool embedding_norm = false;     // BERT: LayerNorm right after the embeddings
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
    bool tie_embeddings = true;      // LM head shares the token embedding matrix
    float dropout = 0.f;             // on embeddings and sub-layer outputs (Vaswani et al. §5.4)
    float attention_dropout = 0.f;   // on the attention weights (BERT, GPT-2: attention_probs_dropout_prob, attn_pdrop)
    float embedding_scale = 1.f;     // the 2017 Transformer multiplies embeddings by √d_model
    int64_t n_classes = 0;           // classifier head

    InitScheme init = InitScheme::normal;
    float init_std = 0.02f;          // InitScheme::normal
    bool init_scale_residual = false;  // GPT-2: projections into the residual stream N(0, (init_std/√(2·n_layers))²)

    std::string name;                // preset name, for messages
    int64_t head_dim() const { return head_size ? head_size : d_model / n_heads; }
    int64_t attention_width() const { return n_heads * head_dim(); }  // q_proj rows, o_proj columns
    int64_t kv_heads() const { return n_kv_heads ? n_kv_heads : n_heads; }
    int64_t encoder_layers() const { return n_encoder_layers ? n_encoder_layers : n_layers; }  // encoder_decoder

    void validate() const;  // throws attend::Error naming the bad field
};

// Named presets reproduce the published shapes (vocab sizes as published).
TransformerConfig transformer_base();  // Vaswani et al. 2017: 6+6 layers, 512, 8 heads, post-norm, ReLU, sinusoidal
TransformerConfig bert_base();         // 12 layers, 768, 12 heads, post-norm, GELU, learned, MLM head
TransformerConfig gpt2_small();        // 12 layers, 768, 12 heads, pre-norm, GELU-tanh, learned, tied LM head
TransformerConfig gpt2_medium();       // 24 layers, 1024, 16 heads
TransformerConfig llama2_7b();         // 32 layers, 4096, 32 heads, RMSNorm, RoPE, SwiGLU, no bias
TransformerConfig preset(const std::string& name);  // by name; unknown name → Error listing the known ones
std::vector<std::string> preset_names();            // "transformer_base", "bert_base", ...

// Σ numel over the parameters a Transformer built from `config` holds (a tied matrix counted
// once), computed from the shapes alone: a 7B preset is counted without allocating it.
// config.validate() is called first.
int64_t parameter_count(const TransformerConfig& config);

// Names of the enum values as the config fields spell them ("rms_norm", "rotate_half", ...).
const char* name_of(NormType v);
const char* name_of(NormPlacement v);
const char* name_of(Activation v);
const char* name_of(PositionType v);
const char* name_of(RopeLayout v);
const char* name_of(ModelShape v);
const char* name_of(HeadType v);
const char* name_of(InitScheme v);
const char* name_of(RopeScalingType v);

}  // namespace attend
