// models/transformer.cpp — a TransformerConfig made into modules: the embedding front, the
// stacks of Blocks, the passes (full, encode/decode, one KV-cache step) and each family's
// initialisation. The heads are in heads.cpp. No branch here names an architecture: every
// `if` reads a config field.
#include "attend/models/transformer.hpp"

#include <algorithm>
#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "core/parallel_loop.hpp"
#include "ops/gemv.hpp"

namespace attend {

TokenBatch right_padded(std::span<const std::vector<int64_t>> sequences) {
    TokenBatch batch;
    right_padded(sequences, batch);
    return batch;
}

void right_padded(std::span<const std::vector<int64_t>> sequences, TokenBatch& batch) {
    int64_t longest = 1;
    for (const auto& s : sequences) longest = std::max(longest, int64_t(s.size()));
    batch.shape = {int64_t(sequences.size()), longest};
    batch.ids.assign(sequences.size() * size_t(longest), 0);
    batch.lengths.clear();
    batch.token_types.clear();
    for (size_t i = 0; i < sequences.size(); ++i) {
        std::copy(sequences[i].begin(), sequences[i].end(), batch.ids.begin() + long(int64_t(i) * longest));
        batch.lengths.push_back(int64_t(sequences[i].size()));
    }
}

std::vector<int64_t> next_token_targets(const TokenBatch& tokens, int64_t ignore_index) {
    const int64_t B = tokens.batch(), T = tokens.length();
    ATTEND_CHECK(int64_t(tokens.ids.size()) == B * T, "tokens hold ", tokens.ids.size(), " ids for shape ",
                 to_string(tokens.shape));
    std::vector<int64_t> targets(size_t(B * T), ignore_index);
    for (int64_t b = 0; b < B; ++b) {
        const int64_t n = tokens.lengths.empty() ? T : tokens.lengths[b];
        for (int64_t t = 0; t + 1 < n; ++t) targets[b * T + t] = tokens.ids[b * T + t + 1];
    }
    return targets;
}

// ---- embeddings ------------------------------------------------------------------------

Embeddings::Embeddings(const TransformerConfig& c, ParameterInit init)
    : token(c.vocab_size, c.d_model, init),
      has_norm(c.embedding_norm),
      positions(c.positions),
      scale(c.embedding_scale),
      dropout(c.dropout) {
    if (c.positions == PositionType::learned) position = LearnedPositions(c.max_positions, c.d_model, init);
    if (c.positions == PositionType::sinusoidal) sinusoidal = SinusoidalPositions(c.max_positions, c.d_model);
    if (c.type_vocab_size > 0) token_type = Embedding(c.type_vocab_size, c.d_model, init);
    if (c.embedding_norm) norm = Norm(c.norm, c.d_model, c.norm_eps);
}

//   x = token(ids) · scale + position(offset + t) + token_type(types);  x = drop(norm(x))
Tensor Embeddings::forward(const TokenBatch& tokens, const std::vector<int64_t>& position_offsets,
                           const ForwardMode& mode) const {
    const int64_t B = tokens.batch(), T = tokens.length();
    Tensor x = token.forward(tokens.ids, tokens.shape);  // (B, T, E)
    if (scale != 1.f) x = attend::scale(x, scale);       // the 2017 Transformer's √d_model
    // A full forward gives padded rows their own positions, as PyTorch does (parity covers
    // them); a KV-cache step (offsets given) gives them the offset, so a short row batched with
    // a long one near the end of the context never asks for a position past the table.
    static const std::vector<int64_t> kNoLengths;
    const std::vector<int64_t>& pad_lengths = position_offsets.empty() ? kNoLengths : tokens.lengths;
    if (positions == PositionType::learned) x = add(x, position.forward(B, T, position_offsets, pad_lengths));
    if (positions == PositionType::sinusoidal) x = add(x, sinusoidal.forward(B, T, position_offsets, pad_lengths));
    if (token_type.weight.defined()) {
        // No types given: every token is of type 0 (segment A), as BERT's default.
        const std::vector<int64_t> types =
            tokens.token_types.empty() ? std::vector<int64_t>(size_t(B * T), 0) : tokens.token_types;
        x = add(x, token_type.forward(types, tokens.shape));
    }
    if (has_norm) x = norm.forward(x);
    return apply_dropout(x, dropout, mode);
}

void Embeddings::collect_parameters(const std::string& prefix, NamedParameters& out) {
    token.collect_parameters(join_name(prefix, "token"), out);
    if (positions == PositionType::learned) position.collect_parameters(join_name(prefix, "position"), out);
    if (token_type.weight.defined()) token_type.collect_parameters(join_name(prefix, "token_type"), out);
    if (has_norm) norm.collect_parameters(join_name(prefix, "norm"), out);
}

// ---- stacks ------------------------------------------------------------------------------

Stack::Stack(const TransformerConfig& c, int64_t n_layers, const BlockOptions& options, ParameterInit init)
    : has_norm(c.final_norm) {
    layers.reserve(size_t(n_layers));
    for (int64_t l = 0; l < n_layers; ++l) layers.emplace_back(c, options, init);
    if (c.final_norm) norm = Norm(c.norm, c.d_model, c.norm_eps);
}

Tensor Stack::forward(const Tensor& x, BlockArgs args, const ForwardMode& mode, std::vector<Tensor>* self_weights,
                      std::vector<Tensor>* cross_weights) const {
    // Asking a block for its weights selects the reference path for that block (attention.hpp).
    if (self_weights) self_weights->assign(layers.size(), Tensor());
    if (cross_weights) cross_weights->assign(layers.size(), Tensor());
    Tensor h = x;  // (B, T, E)
    for (size_t l = 0; l < layers.size(); ++l) {
        args.layer = int64_t(l);
        if (self_weights) args.self_weights = &(*self_weights)[l];
        if (cross_weights && layers[l].cross_attn) args.cross_weights = &(*cross_weights)[l];
        h = layers[l].forward(h, args, mode);
    }
    return has_norm ? norm.forward(h) : h;
}

void Stack::collect_parameters(const std::string& prefix, NamedParameters& out) {
    for (size_t l = 0; l < layers.size(); ++l)
        layers[l].collect_parameters(join_name(prefix, "layers." + std::to_string(l)), out);
    if (has_norm) norm.collect_parameters(join_name(prefix, "norm"), out);
}

// ---- the model -----------------------------------------------------------------------------

namespace {

const TransformerConfig& validated(const TransformerConfig& c) {
    c.validate();
    return c;
}

// A temporary as an lvalue: it lives to the end of the full expression, here the whole
// delegated constructor.
Generator& lvalue(Generator&& gen) { return gen; }

}  // namespace

Transformer::Transformer(const TransformerConfig& config, uint64_t seed)
    : Transformer(config, lvalue(Generator(seed))) {}

Transformer::Transformer(const TransformerConfig& config, ParameterInit init)
    : embeddings(validated(config), init), config_(config) {
    const auto& c = config_;
    switch (c.shape) {
        case ModelShape::encoder: encoder = Stack(c, c.n_layers, {.causal = false, .cross_attention = false}, init); break;
        case ModelShape::decoder: decoder = Stack(c, c.n_layers, {.causal = true, .cross_attention = false}, init); break;
        case ModelShape::encoder_decoder:
            encoder = Stack(c, c.encoder_layers(), {.causal = false, .cross_attention = false}, init);
            decoder = Stack(c, c.n_layers, {.causal = true, .cross_attention = true}, init);
            break;
    }
    switch (c.head) {
        case HeadType::lm:
        case HeadType::seq2seq:
            if (!c.tie_embeddings) {
                const float bound = 1.f / std::sqrt(float(c.d_model));  // nn.Linear(E, V, bias=False)
                lm_head = init.uniform({c.vocab_size, c.d_model}, -bound, bound);
                lm_head.requires_grad_(true);
            }
            break;
        case HeadType::mlm: mlm = MlmHead(c, init); break;
        case HeadType::classifier: classifier = ClassifierHead(c, init); break;
        case HeadType::none: break;
    }
    if (init.draws()) initialise(init.generator());  // uninitialised: the values come from elsewhere
}

void Transformer::collect_parameters(const std::string& prefix, NamedParameters& out) {
    embeddings.collect_parameters(join_name(prefix, "embeddings"), out);
    if (config_.shape == ModelShape::encoder_decoder) {
        encoder.collect_parameters(join_name(prefix, "encoder"), out);
        decoder.collect_parameters(join_name(prefix, "decoder"), out);
    } else {
        (config_.shape == ModelShape::encoder ? encoder : decoder).collect_parameters(prefix, out);
    }
    add_parameter(out, prefix, "lm_head.weight", lm_head);
    if (config_.head == HeadType::mlm) mlm.collect_parameters(join_name(prefix, "mlm"), out);
    if (config_.head == HeadType::classifier) classifier.collect_parameters(prefix, out);
}

// Each family's recipe (config.init):
//   normal   every matrix and embedding N(0, σ²), σ = init_std; biases 0; norms weight 1, bias 0
//            (HF's _init_weights for GPT-2, BERT, Llama). With init_scale_residual, the
//            matrices that write into the residual stream — attention's output projection and
//            the feed-forward's down projection — get σ/√(2·n_layers) (GPT-2 §2.3: "scale the
//            weights of residual layers at initialization by 1/√N", N = 2 per block).
//   xavier   every matrix U(±√(6/(fan_in + fan_out))) (the Annotated Transformer's recipe for
//            the 2017 model); biases and norms keep the torch defaults they were built with.
//   torch_default  nothing to redo: the modules were built as torch builds them.
void Transformer::initialise(Generator& gen) {
    const auto& c = config_;
    if (c.init == InitScheme::torch_default) return;
    NoGradGuard no_grad;
    const NamedParameters params = parameters();
    auto ends_with = [](const std::string& s, const std::string& tail) {
        return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
    };
    for (const auto& [name, p] : params) {
        if (p->dim() >= 2) {
            if (c.init == InitScheme::normal) {
                copy_parameter(*p, Tensor::randn(p->shape(), gen, c.init_std), name);
            } else {
                const int64_t fan_out = p->size(0), fan_in = p->numel() / fan_out;
                const float a = std::sqrt(6.f / float(fan_in + fan_out));
                copy_parameter(*p, Tensor::uniform(p->shape(), gen, -a, a), name);
            }
        } else if (c.init == InitScheme::normal && ends_with(name, "bias")) {
            copy_parameter(*p, Tensor::zeros(p->shape()), name);  // norms' weights are already 1
        }
    }
    if (c.init == InitScheme::normal && c.init_scale_residual) {
        const float s = c.init_std / std::sqrt(2.f * float(c.n_layers));
        for (Stack* stack : {&encoder, &decoder})
            for (Block& block : stack->layers) {
                Tensor& out = block.self_attn.out_proj.weight;
                copy_parameter(out, Tensor::randn(out.shape(), gen, s), "out_proj");
                if (block.cross_attn) {
                    Tensor& cross_out = block.cross_attn->out_proj.weight;
                    copy_parameter(cross_out, Tensor::randn(cross_out.shape(), gen, s), "cross out_proj");
                }
                copy_parameter(block.ff.down.weight, Tensor::randn(block.ff.down.weight.shape(), gen, s), "ff down");
            }
    }
}

void Transformer::check_tokens(const TokenBatch& t, const char* what) const {
    ATTEND_CHECK(t.shape.size() == 2 && t.shape[0] > 0 && t.shape[1] > 0, what, " must have shape (B, T) with B, T > 0, got ",
                 to_string(t.shape));
    const int64_t B = t.shape[0], T = t.shape[1];
    ATTEND_CHECK(int64_t(t.ids.size()) == B * T, what, " hold ", t.ids.size(), " ids for shape ", to_string(t.shape));
    ATTEND_CHECK(t.lengths.empty() || int64_t(t.lengths.size()) == B, what, " have ", t.lengths.size(),
                 " lengths for a batch of ", B);
    for (size_t b = 0; b < t.lengths.size(); ++b)
        ATTEND_CHECK(t.lengths[b] >= 0 && t.lengths[b] <= T, what, ": length ", t.lengths[b], " of sequence ", b,
                     " is outside [0, T=", T, "]");
    ATTEND_CHECK(t.token_types.empty() || int64_t(t.token_types.size()) == B * T, what, " hold ",
                 t.token_types.size(), " token types for shape ", to_string(t.shape));
    ATTEND_CHECK(t.token_types.empty() || config_.type_vocab_size > 0, what,
                 " carry token types but the config has type_vocab_size=0");
}

Tensor Transformer::hidden_states(const TokenBatch& tokens, const ForwardMode& mode, AttentionCapture* capture) const {
    ATTEND_CHECK(config_.shape != ModelShape::encoder_decoder,
                 "an encoder_decoder model takes a source and a target: call forward(src, tgt) or encode/decode");
    check_tokens(tokens, "tokens");
    BlockArgs args;
    args.self_mask.key_lengths = tokens.lengths;  // padding; a decoder's blocks add causal
    const Tensor x = embeddings.forward(tokens, {}, mode);
    if (config_.shape == ModelShape::encoder)
        return encoder.forward(x, args, mode, capture ? &capture->encoder_self : nullptr);
    return decoder.forward(x, args, mode, capture ? &capture->decoder_self : nullptr);
}

Tensor Transformer::forward(const TokenBatch& tokens, const ForwardMode& mode, AttentionCapture* capture) const {
    return head(hidden_states(tokens, mode, capture), mode);
}

Tensor Transformer::encode(const TokenBatch& src, const ForwardMode& mode, AttentionCapture* capture) const {
    ATTEND_CHECK(config_.shape != ModelShape::decoder, "a decoder-only model has no encoder; call forward(tokens)");
    check_tokens(src, "source tokens");
    BlockArgs args;
    args.self_mask.key_lengths = src.lengths;
    return encoder.forward(embeddings.forward(src, {}, mode), args, mode,
                           capture ? &capture->encoder_self : nullptr);  // (B, S, E)
}

Tensor Transformer::decode(const TokenBatch& tgt, const Tensor& memory, const std::vector<int64_t>& memory_lengths,
                           const ForwardMode& mode, AttentionCapture* capture) const {
    ATTEND_CHECK(config_.shape == ModelShape::encoder_decoder, "decode needs an encoder_decoder model, this one is ",
                 name_of(config_.shape));
    check_tokens(tgt, "target tokens");
    ATTEND_CHECK(memory.defined() && memory.dim() == 3 && memory.size(0) == tgt.batch() &&
                     memory.size(2) == config_.d_model,
                 "memory must be (B=", tgt.batch(), ", S, E=", config_.d_model, "), got ",
                 memory.defined() ? to_string(memory.shape()) : "(undefined)");
    BlockArgs args;
    args.self_mask.key_lengths = tgt.lengths;
    args.memory = memory;
    args.memory_mask.key_lengths = memory_lengths;
    return head(decoder.forward(embeddings.forward(tgt, {}, mode), args, mode, capture ? &capture->decoder_self : nullptr,
                                capture ? &capture->cross : nullptr),
                mode);
}

Tensor Transformer::forward(const TokenBatch& src, const TokenBatch& tgt, const ForwardMode& mode,
                            AttentionCapture* capture) const {
    return decode(tgt, encode(src, mode, capture), src.lengths, mode, capture);
}

Tensor Transformer::decoder_step(const TokenBatch& step, KVCache& cache, const Tensor& memory,
                                 const std::vector<int64_t>& memory_lengths, const ForwardMode& mode,
                                 StepLogits which) const {
    check_tokens(step, "step tokens");
    ATTEND_CHECK(cache.n_layers() == int64_t(decoder.layers.size()) && cache.n_kv_heads() == config_.kv_heads() &&
                     cache.head_dim() == config_.head_dim(),
                 "the cache has ", cache.n_layers(), " layers of ", cache.n_kv_heads(), " kv heads of ",
                 cache.head_dim(), "; this decoder needs ", decoder.layers.size(), " of ", config_.kv_heads(), " of ",
                 config_.head_dim());
    ATTEND_CHECK(step.batch() == cache.batch(), "the step has ", step.batch(), " sequences, the cache ",
                 cache.batch());
    Tensor logits;
    const auto run = [&] {
        cache.begin_step(step.length(), step.lengths);
        // New token i of sequence b sits at position lengths[b] + i: learned and sinusoidal
        // positions read the offsets here, RoPE inside self-attention reads them from the cache.
        const Tensor x = embeddings.forward(step, cache.step_offsets(), mode);
        BlockArgs args;
        args.cache = &cache;
        args.memory = memory;
        args.memory_mask.key_lengths = memory_lengths;
        const Tensor h = decoder.forward(x, args, mode);  // (B, Tq, E)
        cache.end_step();
        if (which == StepLogits::all || step.length() == 1) {
            logits = head(h, mode);  // (B, Tq, V)
            return;
        }
        std::vector<Tensor> last;  // each sequence's last new row (B × (1, 1, E))
        for (int64_t b = 0; b < step.batch(); ++b) {
            const int64_t row = std::max<int64_t>(1, step.lengths.empty() ? step.length() : step.lengths[b]) - 1;
            last.push_back(h.slice(0, b, b + 1).slice(1, row, row + 1));
        }
        logits = head(concat(last, 0), mode);  // (B, 1, V)
    };
    // A step of a few rows, nothing to differentiate, no encoder memory to project: every
    // product is a skinny GEMV and its attention the few-rows kernel, so one team serves the
    // whole step (core/parallel_loop.hpp). A longer step (a prompt) keeps a region per GEMM.
    const bool decoding = step.batch() * step.length() <= kMaxSkinnyRows && !memory.defined() && !grad_enabled();
    if (decoding) with_team(run);
    else run();
    return logits;
}

Tensor Transformer::forward_step(const TokenBatch& step, KVCache& cache, const ForwardMode& mode,
                                 StepLogits which) const {
    ATTEND_CHECK(config_.shape == ModelShape::decoder, "forward_step(step, cache) is for decoder-only models; an ",
                 name_of(config_.shape), " model ",
                 config_.shape == ModelShape::encoder ? "has no causal decoder to cache"
                                                      : "needs the encoder memory: forward_step(step, cache, memory, memory_lengths)");
    return decoder_step(step, cache, Tensor(), {}, mode, which);
}

Tensor Transformer::forward_step(const TokenBatch& step, KVCache& cache, const Tensor& memory,
                                 const std::vector<int64_t>& memory_lengths, const ForwardMode& mode,
                                 StepLogits which) const {
    ATTEND_CHECK(config_.shape == ModelShape::encoder_decoder,
                 "forward_step with a memory is for encoder_decoder models, this one is ", name_of(config_.shape));
    ATTEND_CHECK(memory.defined() || cache.has_cross(0),
                 "the first decoding step needs the encoder memory (later steps reuse its cached projections)");
    return decoder_step(step, cache, memory, memory_lengths, mode, which);
}

KVCache Transformer::make_cache(int64_t batch, int64_t capacity, WeightType values) const {
    ATTEND_CHECK(!decoder.layers.empty(), "a KV cache is for a decoder; this model is ", name_of(config_.shape));
    const int64_t cap = capacity > 0 ? capacity : config_.max_positions;
    ATTEND_CHECK(cap > 0, "make_cache: give a capacity (the config's max_positions is 0)");
    return KVCache(int64_t(decoder.layers.size()), batch, config_.kv_heads(), config_.head_dim(), cap, values);
}

Tensor Transformer::loss(const Tensor& logits, const std::vector<int64_t>& targets, int64_t ignore_index,
                         float label_smoothing) {
    ATTEND_CHECK(logits.defined() && logits.dim() >= 2, "loss expects logits (..., C), got ",
                 logits.defined() ? to_string(logits.shape()) : "(undefined)");
    const int64_t C = logits.size(-1), rows = logits.numel() / C;
    ATTEND_CHECK(int64_t(targets.size()) == rows, "loss: ", targets.size(), " targets for ", rows,
                 " rows of logits ", to_string(logits.shape()));
    return cross_entropy(logits.reshape({rows, C}), targets, ignore_index, label_smoothing);
}

}  // namespace attend
