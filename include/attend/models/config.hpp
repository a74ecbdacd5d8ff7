// models/config.hpp — one configuration, every architecture.
//
// GPT-2, BERT, Llama and the encoder–decoder Transformer are the same machine:
// tokens → embeddings (+ positions) → blocks of attention and feed-forward with residuals
// and norms → a head. They differ only in the fields below and in the BlockConfig the config
// is (nn/block_config.hpp: what every block reads; see docs/architectures.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attend/nn/block_config.hpp"

namespace attend {

enum class ModelShape { encoder, decoder, encoder_decoder };
enum class HeadType { none, lm, mlm, classifier, seq2seq };

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

struct TransformerConfig : BlockConfig {  // the block fields: nn/block_config.hpp
    ModelShape shape = ModelShape::decoder;
    HeadType head = HeadType::lm;

    int64_t vocab_size = 0;
    int64_t n_layers = 0;        // decoder layers (or encoder layers for an encoder)
    int64_t n_encoder_layers = 0;  // encoder_decoder only; 0 means n_layers
    int64_t type_vocab_size = 0; // BERT token types (segment embeddings); 0 = none

    bool final_norm = true;          // a norm after the last block (pre-norm models)
    bool embedding_norm = false;     // BERT: LayerNorm right after the embeddings
    bool tie_embeddings = true;      // LM head shares the token embedding matrix
    float embedding_scale = 1.f;     // the 2017 Transformer multiplies embeddings by √d_model
    int64_t n_classes = 0;           // classifier head

    InitScheme init = InitScheme::normal;
    float init_std = 0.02f;          // InitScheme::normal
    bool init_scale_residual = false;  // GPT-2: projections into the residual stream N(0, (init_std/√(2·n_layers))²)

    std::string name;                // preset name, for messages
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
