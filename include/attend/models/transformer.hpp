// models/transformer.hpp — the one model: a TransformerConfig made into modules.
//
//   tokens ─► Embeddings ─► encoder Stack ─────────────────────────► head     encoder (BERT)
//   tokens ─► Embeddings ─► decoder Stack (causal) ─────────────────► head     decoder (GPT-2, Llama)
//   src    ─► Embeddings ─► encoder Stack ─► memory ─┐
//   tgt    ─► Embeddings ─► decoder Stack (causal, cross-attention) ─► head    encoder–decoder (2017)
//
//   Embeddings  x = token(ids) · embedding_scale (+ position) (+ token_type), then an optional
//               norm (BERT) and dropout. Positions: a sinusoidal table or a learned one added
//               here, or RoPE applied to q and k inside every block, or none.
//   Stack       the config's Blocks (nn/block.hpp) in order, then an optional final norm
//               (pre-norm models: GPT-2's ln_f, Llama's norm).
//   Heads       lm / seq2seq  logits = h · Wᵀ, W the token embedding (tied) or lm_head
//               mlm           logits = Norm(act(h · W_tᵀ + b_t)) · W_embᵀ + b     (BERT's cls.predictions)
//               classifier    logits = W_c · drop(tanh(W_p · h[:, 0] + b_p)) + b_c  (BERT's pooler + classifier)
//               none          the final hidden states
//
// Nothing here knows GPT-2 from BERT: every difference is a config field, and the blocks are
// the same code for all. Padding is per-sequence lengths (right padding), which become the
// attention's key_lengths; a decoder adds causal masking; decoding steps go through a KVCache.
//
// Parameter names (collect_parameters), consistent across families:
//   embeddings.token.weight  embeddings.position.weight  embeddings.token_type.weight  embeddings.norm.*
//   layers.N.* and norm.*                          encoder-only and decoder-only models
//   encoder.layers.N.*, encoder.norm.*, decoder.layers.N.*, decoder.norm.*     encoder–decoder
//   lm_head.weight (untied)   mlm.transform.*  mlm.norm.*  mlm.bias  mlm.decoder.weight (untied)
//   pooler.*  classifier.*
// with the block's own names under layers.N (self_attn.q_proj.weight, ff_norm.bias, ...).
// Loaders in io/ (io/hf_names.hpp) map other libraries' names and layouts onto these.
//
// Implemented in src/models/transformer.cpp (embeddings, stacks, the model) and
// src/models/heads.cpp (the heads).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attend/low_precision.hpp"
#include "attend/models/config.hpp"
#include "attend/nn/block.hpp"
#include "attend/nn/init.hpp"
#include "attend/nn/kv_cache.hpp"
#include "attend/nn/layers.hpp"
#include "attend/nn/module.hpp"
#include "attend/nn/positions.hpp"
#include "attend/random.hpp"
#include "attend/tensor.hpp"

namespace attend {

// Which rows of a KV-cache step go through the head (Transformer::forward_step).
enum class StepLogits { all, last };

// A batch of token sequences, right-padded to one length.
struct TokenBatch {
    std::vector<int64_t> ids;          // (B, T) row-major
    Shape shape;                       // {B, T}
    std::vector<int64_t> lengths;      // per sequence: positions t ≥ lengths[b] are padding; empty: none
    std::vector<int64_t> token_types;  // (B, T) segment ids (BERT); empty: all 0

    int64_t batch() const { return shape.size() == 2 ? shape[0] : 0; }
    int64_t length() const { return shape.size() == 2 ? shape[1] : 0; }
};

// For language modelling: target(b, t) = ids(b, t + 1) while t + 1 < lengths[b], else
// ignore_index — the next token of every position, padding and the last token ignored.
std::vector<int64_t> next_token_targets(const TokenBatch& tokens, int64_t ignore_index = -100);

// Token sequences right-padded with id 0 into one batch: shape {n, max(1, longest)}, lengths
// set (an empty sequence is a row of padding).
TokenBatch right_padded(std::span<const std::vector<int64_t>> sequences);
// The same into `batch`, whose vectors keep their room: a decoding loop's steps allocate nothing.
void right_padded(std::span<const std::vector<int64_t>> sequences, TokenBatch& batch);

// Every layer's attention weights from one full pass, for looking at them (viz/). A layer
// that captures runs the reference attention path, which materialises the weights (the
// fused kernel never does); its output is the reference path's, equal to the fused one's
// to rounding. A pass given a capture refills the vectors of the stacks it runs, one tensor
// per layer.
struct AttentionCapture {
    std::vector<Tensor> encoder_self;  // per encoder layer (B, H, S, S); an encoder-only model's layers
    std::vector<Tensor> decoder_self;  // per decoder layer (B, H, T, T); a decoder-only model's layers
    std::vector<Tensor> cross;         // per decoder layer (B, H, T, S): target queries on source keys
};

// The front: token embedding, positions, token types, norm, dropout.
class Embeddings {
public:
    Embeddings() = default;
    Embeddings(const TransformerConfig& config, ParameterInit init);

    // (B, T, E). Token t of sequence b sits at position_offsets[b] + t (empty: t).
    Tensor forward(const TokenBatch& tokens, const std::vector<int64_t>& position_offsets = {},
                   const ForwardMode& mode = {}) const;
    void collect_parameters(const std::string& prefix, NamedParameters& out);

    Embedding token;                 // (V, E)
    LearnedPositions position;       // positions == learned
    SinusoidalPositions sinusoidal;  // positions == sinusoidal (no parameters)
    Embedding token_type;            // type_vocab_size > 0
    Norm norm;                       // embedding_norm
    bool has_norm = false;
    PositionType positions = PositionType::none;
    float scale = 1.f;
    float dropout = 0.f;
};

// Blocks in order, then an optional final norm.
class Stack {
public:
    Stack() = default;
    Stack(const TransformerConfig& config, int64_t n_layers, const BlockOptions& options, ParameterInit init);

    // x (B, T, E) -> (B, T, E). `args` is handed to every block, with args.layer set to the
    // block's index (its slot in a KV cache). self_weights / cross_weights, when given, are
    // resized to one tensor per layer and receive each block's weights (B, H, Tq, Tk).
    Tensor forward(const Tensor& x, BlockArgs args, const ForwardMode& mode = {},
                   std::vector<Tensor>* self_weights = nullptr, std::vector<Tensor>* cross_weights = nullptr) const;
    void collect_parameters(const std::string& prefix, NamedParameters& out);

    std::vector<Block> layers;
    Norm norm;  // when has_norm
    bool has_norm = false;
};

// BERT's masked-LM head (cls.predictions): a dense + activation + norm transform, then a
// decoder to the vocabulary that shares the token embedding matrix (tied) plus its own bias.
class MlmHead {
public:
    MlmHead() = default;
    MlmHead(const TransformerConfig& config, ParameterInit init);

    // h (B, T, E), embedding (V, E) the tied matrix (ignored when untied) -> (B, T, V).
    Tensor forward(const Tensor& h, const Tensor& embedding) const;
    void collect_parameters(const std::string& prefix, NamedParameters& out);

    Linear transform;  // E -> E
    Norm norm;
    Tensor bias;       // (V)
    Tensor decoder;    // (V, E) when untied
    Activation activation = Activation::gelu;
};

// BERT's sequence classifier: the pooler (dense + tanh on the first token, [CLS]), dropout,
// and a linear to the classes.
class ClassifierHead {
public:
    ClassifierHead() = default;
    ClassifierHead(const TransformerConfig& config, ParameterInit init);

    Tensor forward(const Tensor& h, const ForwardMode& mode = {}) const;  // h (B, T, E) -> (B, n_classes)
    void collect_parameters(const std::string& prefix, NamedParameters& out);

    Linear pooler;      // E -> E
    Linear classifier;  // E -> n_classes
    float dropout = 0.f;
};

class Transformer {
public:
    // Validates the config, builds every module and initialises it as config.init says,
    // drawing from the Generator `init` holds. With ParameterInit::uninitialised() nothing is
    // drawn and no matrix or embedding has memory (only norms' 1s and some biases' 0s, a few
    // KB): every parameter has its shape and no value, for a loader to match and replace the
    // handles (io/model_loader.hpp builds models for checkpoints so).
    Transformer(const TransformerConfig& config, ParameterInit init);
    explicit Transformer(const TransformerConfig& config, uint64_t seed = 0);

    const TransformerConfig& config() const { return config_; }

    // ---- full passes (training, scoring) ----
    // Each takes an optional AttentionCapture that receives the weights of the layers it runs.
    // Encoder-only and decoder-only models: the head's output — lm/mlm (B, T, V), classifier
    // (B, n_classes), none the final hidden states (B, T, E).
    Tensor forward(const TokenBatch& tokens, const ForwardMode& mode = {}, AttentionCapture* capture = nullptr) const;
    // Encoder–decoder: decode(tgt, encode(src), src.lengths) — (B, T, V) for seq2seq.
    Tensor forward(const TokenBatch& src, const TokenBatch& tgt, const ForwardMode& mode = {},
                   AttentionCapture* capture = nullptr) const;

    // Encoder-only and decoder-only models: the stack's output, before the head (B, T, E).
    Tensor hidden_states(const TokenBatch& tokens, const ForwardMode& mode = {},
                         AttentionCapture* capture = nullptr) const;
    // The encoder's output (B, S, E): the memory of an encoder–decoder, or an encoder's hidden states.
    Tensor encode(const TokenBatch& src, const ForwardMode& mode = {}, AttentionCapture* capture = nullptr) const;
    // Encoder–decoder: the target through the decoder, attending to `memory` (B, S, E) whose
    // positions s ≥ memory_lengths[b] are padding (empty: none) -> the head's output.
    Tensor decode(const TokenBatch& tgt, const Tensor& memory, const std::vector<int64_t>& memory_lengths = {},
                  const ForwardMode& mode = {}, AttentionCapture* capture = nullptr) const;
    // The head on final hidden states h (B, T, E) (lm/mlm/seq2seq logits, classifier logits, or h).
    Tensor head(const Tensor& h, const ForwardMode& mode = {}) const;

    // ---- incremental decoding (inference; run under NoGradGuard) ----
    // One KVCache step (nn/kv_cache.hpp): step.shape = {B, Tq} holds the next tokens of every
    // sequence, step.lengths = n_new (how many of the Tq are real; empty: all). Token i of
    // sequence b sits at position cache.lengths()[b] + i. Returns the head's output for the
    // Tq new positions (B, Tq, V); rows i ≥ n_new[b] are meaningless. With StepLogits::last,
    // only each sequence's last new position (row max(n_new[b], 1) − 1) goes through the
    // head: (B, 1, V) — all that sampling reads. For an LM head that skips the largest
    // product of a prompt pass (GPT-2: 50257 × 768 multiply-adds per row, ~30% of it).
    Tensor forward_step(const TokenBatch& step, KVCache& cache, const ForwardMode& mode = {},
                        StepLogits which = StepLogits::all) const;
    // Encoder–decoder: the same, attending to `memory` too. Its keys and values are projected
    // at the first step and kept in the cache; later steps may pass an undefined memory.
    Tensor forward_step(const TokenBatch& step, KVCache& cache, const Tensor& memory,
                        const std::vector<int64_t>& memory_lengths, const ForwardMode& mode = {},
                        StepLogits which = StepLogits::all) const;
    // A cache for this model's decoder (capacity 0: max_positions), holding f32 or bf16 values.
    KVCache make_cache(int64_t batch, int64_t capacity = 0, WeightType values = WeightType::f32) const;

    // Mean cross-entropy of logits (..., C) against targets (one per row), skipping ignore_index.
    static Tensor loss(const Tensor& logits, const std::vector<int64_t>& targets, int64_t ignore_index = -100,
                       float label_smoothing = 0.f);

    void collect_parameters(const std::string& prefix, NamedParameters& out);
    NamedParameters parameters() { return parameters_of(*this); }

    // For inference in low precision (low_precision.hpp): every matrix the model multiplies
    // by — projections, feed-forward, heads, and the token embedding (which a tied LM head
    // reads too) — is rounded to `type` and its fp32 values are released; norms, biases and
    // position tables stay fp32 (small, and read by other ops). The model then runs forward
    // passes only. f32 leaves the model as it is. Returns how many matrices were converted.
    int64_t convert_weights(WeightType type);
    // The rule convert_weights and the loaders share: parameter `name` of `shape` is a matrix
    // only linear()/embedding() read (not a position or token-type table), so it may be held
    // in low precision.
    static bool converts_to_low_precision(const std::string& name, const Shape& shape);
    // The bytes the parameters occupy as they are held now (fp32, bf16 or int8).
    int64_t weight_bytes();

    // The modules (public, as in nn/: a loader or an optimizer reaches them by name).
    Embeddings embeddings;
    Stack encoder;  // encoder and encoder_decoder shapes
    Stack decoder;  // decoder and encoder_decoder shapes
    Tensor lm_head;  // (V, E): lm and seq2seq heads when untied
    MlmHead mlm;
    ClassifierHead classifier;

private:
    void initialise(Generator& gen);
    void check_tokens(const TokenBatch& tokens, const char* what) const;
    Tensor lm_logits(const Tensor& h) const;
    Tensor decoder_step(const TokenBatch& step, KVCache& cache, const Tensor& memory,
                        const std::vector<int64_t>& memory_lengths, const ForwardMode& mode, StepLogits which) const;

    TransformerConfig config_;
};

}  // namespace attend
