// models/config.cpp — checking a TransformerConfig, the named presets, and the parameter
// count computed from shapes alone.
//
// Every preset below is the published model's shape; the table in docs/architectures.md says
// which field reproduces which choice of the paper.
#include "attend/models/config.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>

#include "attend/error.hpp"

namespace attend {

const char* name_of(NormType v) { return v == NormType::layer_norm ? "layer_norm" : "rms_norm"; }
const char* name_of(NormPlacement v) { return v == NormPlacement::pre ? "pre" : "post"; }
const char* name_of(Activation v) {
    switch (v) {
        case Activation::relu: return "relu";
        case Activation::gelu: return "gelu";
        case Activation::gelu_tanh: return "gelu_tanh";
        case Activation::swiglu: return "swiglu";
        case Activation::geglu: return "geglu";
    }
    return "?";
}
const char* name_of(PositionType v) {
    switch (v) {
        case PositionType::none: return "none";
        case PositionType::sinusoidal: return "sinusoidal";
        case PositionType::learned: return "learned";
        case PositionType::rope: return "rope";
    }
    return "?";
}
const char* name_of(RopeLayout v) { return v == RopeLayout::interleaved ? "interleaved" : "rotate_half"; }
const char* name_of(ModelShape v) {
    switch (v) {
        case ModelShape::encoder: return "encoder";
        case ModelShape::decoder: return "decoder";
        case ModelShape::encoder_decoder: return "encoder_decoder";
    }
    return "?";
}
const char* name_of(HeadType v) {
    switch (v) {
        case HeadType::none: return "none";
        case HeadType::lm: return "lm";
        case HeadType::mlm: return "mlm";
        case HeadType::classifier: return "classifier";
        case HeadType::seq2seq: return "seq2seq";
    }
    return "?";
}
const char* name_of(InitScheme v) {
    switch (v) {
        case InitScheme::torch_default: return "torch_default";
        case InitScheme::normal: return "normal";
        case InitScheme::xavier: return "xavier";
    }
    return "?";
}

const char* name_of(RopeScalingType v) {
    switch (v) {
        case RopeScalingType::none: return "none";
        case RopeScalingType::linear: return "linear";
        case RopeScalingType::llama3: return "llama3";
        case RopeScalingType::longrope: return "longrope";
    }
    return "?";
}

namespace {

// rope_scaling's numbers, for a config whose positions are RoPE of head dim D.
void validate_rope_scaling(const RopeScaling& r, int64_t D, const std::string& who) {
    auto positive = [&](float v, const char* field) {
        ATTEND_CHECK(std::isfinite(v) && v > 0.f, who, "rope_scaling.", field, " must be finite and positive, got ", v);
    };
    switch (r.rope_type) {
        case RopeScalingType::none: return;
        case RopeScalingType::linear: positive(r.factor, "factor"); return;
        case RopeScalingType::llama3:
            positive(r.factor, "factor");
            positive(r.low_freq_factor, "low_freq_factor");
            positive(r.high_freq_factor, "high_freq_factor");
            ATTEND_CHECK(r.high_freq_factor > r.low_freq_factor, who, "rope_scaling.high_freq_factor (",
                         r.high_freq_factor, ") must exceed low_freq_factor (", r.low_freq_factor,
                         "): the blend divides by their difference");
            ATTEND_CHECK(r.original_max_position_embeddings > 0 &&
                             r.original_max_position_embeddings <= ConfigLimits::max_positions,
                         who, "rope_scaling.original_max_position_embeddings must be in [1, ",
                         ConfigLimits::max_positions, "], got ", r.original_max_position_embeddings);
            return;
        case RopeScalingType::longrope:
            ATTEND_CHECK(r.original_max_position_embeddings > 0 &&
                             r.original_max_position_embeddings <= ConfigLimits::max_positions,
                         who, "rope_scaling.original_max_position_embeddings must be in [1, ",
                         ConfigLimits::max_positions, "], got ", r.original_max_position_embeddings);
            for (const auto* list : {&r.short_factor, &r.long_factor}) {
                const char* field = list == &r.short_factor ? "short_factor" : "long_factor";
                ATTEND_CHECK(int64_t(list->size()) == D / 2, who, "rope_scaling.", field, " has ", list->size(),
                             " entries; head_dim ", D, " needs ", D / 2, " (one per rotated pair)");
                for (float v : *list) positive(v, field);
            }
            positive(r.attention_factor, "attention_factor");
            return;
    }
}

}  // namespace

void TransformerConfig::validate() const {
    // Every message starts with the config's name, so an error from a preset or a file says which.
    const std::string who = "TransformerConfig" + (name.empty() ? std::string() : " '" + name + "'") + ": ";

    // Upper bounds first (ConfigLimits): a hostile file's sizes stop here, before any product
    // of them is formed.
    const std::pair<const char*, std::pair<int64_t, int64_t>> limits[] = {
        {"vocab_size", {vocab_size, ConfigLimits::vocab_size}},  {"d_model", {d_model, ConfigLimits::d_model}},
        {"n_layers", {n_layers, ConfigLimits::n_layers}},        {"n_encoder_layers", {n_encoder_layers, ConfigLimits::n_layers}},
        {"n_heads", {n_heads, ConfigLimits::d_model}},           {"n_kv_heads", {n_kv_heads, ConfigLimits::d_model}},
        {"d_ff", {d_ff, ConfigLimits::d_ff}},                    {"max_positions", {max_positions, ConfigLimits::max_positions}},
        {"type_vocab_size", {type_vocab_size, ConfigLimits::type_vocab_size}},
        {"n_classes", {n_classes, ConfigLimits::n_classes}},     {"head_size", {head_size, ConfigLimits::d_model}},
        {"sliding_window", {sliding_window, ConfigLimits::max_positions}},
    };
    for (const auto& [field, value_limit] : limits)
        ATTEND_CHECK(value_limit.first <= value_limit.second, who, field, " must be ≤ ", value_limit.second, ", got ",
                     value_limit.first);
    ATTEND_CHECK(vocab_size > 0, who, "vocab_size must be positive, got ", vocab_size);
    ATTEND_CHECK(d_model > 0, who, "d_model must be positive, got ", d_model);
    ATTEND_CHECK(n_layers > 0, who, "n_layers must be positive, got ", n_layers);
    ATTEND_CHECK(n_heads > 0, who, "n_heads must be positive, got ", n_heads);
    ATTEND_CHECK(d_ff > 0, who, "d_ff must be positive, got ", d_ff);
    ATTEND_CHECK(head_size >= 0, who, "head_size must be ≥ 0 (0 means d_model/n_heads), got ", head_size);
    ATTEND_CHECK(head_size > 0 || d_model % n_heads == 0, who, "d_model=", d_model, " is not divisible by n_heads=",
                 n_heads, " (or give head_size)");
    ATTEND_CHECK(n_heads * head_dim() <= ConfigLimits::d_model, who, "n_heads·head_dim = ", n_heads, "·",
                 head_dim(), " exceeds ", ConfigLimits::d_model);
    ATTEND_CHECK(sliding_window >= 0, who, "sliding_window must be ≥ 0 (0 means none), got ", sliding_window);
    ATTEND_CHECK(sliding_window == 0 || shape == ModelShape::decoder, who,
                 "sliding_window is for causal decoders; this config is ", name_of(shape));
    ATTEND_CHECK(!qkv_bias || !bias, who, "qkv_bias is for models without `bias` (Qwen2); with bias=true every "
                 "projection has one already");
    ATTEND_CHECK(n_kv_heads >= 0, who, "n_kv_heads must be ≥ 0 (0 means n_heads), got ", n_kv_heads);
    ATTEND_CHECK(n_heads % kv_heads() == 0, who, "n_heads=", n_heads, " is not a multiple of n_kv_heads=",
                 kv_heads(), " (each key/value head serves a whole group of query heads)");
    ATTEND_CHECK(n_encoder_layers >= 0, who, "n_encoder_layers must be ≥ 0, got ", n_encoder_layers);
    ATTEND_CHECK(n_encoder_layers == 0 || shape == ModelShape::encoder_decoder, who, "n_encoder_layers=",
                 n_encoder_layers, " is for shape encoder_decoder; this config is ", name_of(shape),
                 " (use n_layers)");
    ATTEND_CHECK(max_positions >= 0, who, "max_positions must be ≥ 0, got ", max_positions);
    ATTEND_CHECK(type_vocab_size >= 0, who, "type_vocab_size must be ≥ 0, got ", type_vocab_size);
    ATTEND_CHECK(std::isfinite(norm_eps) && norm_eps >= 0.f, who, "norm_eps must be finite and ≥ 0, got ", norm_eps);
    ATTEND_CHECK(dropout >= 0.f && dropout < 1.f, who, "dropout must be in [0, 1), got ", dropout);
    ATTEND_CHECK(attention_dropout >= 0.f && attention_dropout < 1.f, who, "attention_dropout must be in [0, 1), got ",
                 attention_dropout);
    ATTEND_CHECK(std::isfinite(embedding_scale) && embedding_scale > 0.f, who,
                 "embedding_scale must be finite and positive, got ", embedding_scale);

    switch (positions) {
        case PositionType::learned:
        case PositionType::sinusoidal:
            ATTEND_CHECK(max_positions > 0, who, "positions=", name_of(positions),
                         " needs max_positions > 0 (the table's length), got ", max_positions);
            break;
        case PositionType::rope:
            ATTEND_CHECK(head_dim() % 2 == 0, who, "RoPE rotates pairs of coordinates, so head_dim = ", head_dim(),
                         " must be even");
            ATTEND_CHECK(std::isfinite(rope_theta) && rope_theta > 0.f, who, "rope_theta must be positive, got ",
                         rope_theta);
            validate_rope_scaling(rope_scaling, head_dim(), who);
            break;
        case PositionType::none: break;
    }
    ATTEND_CHECK(positions == PositionType::rope || rope_scaling.rope_type == RopeScalingType::none, who,
                 "rope_scaling ", name_of(rope_scaling.rope_type), " needs positions=rope, got ", name_of(positions));

    // Which heads sit on which shape.
    switch (head) {
        case HeadType::lm:
            ATTEND_CHECK(shape == ModelShape::decoder, who, "head=lm needs shape decoder, got ", name_of(shape),
                         " (an encoder_decoder's LM head is head=seq2seq)");
            break;
        case HeadType::mlm:
            ATTEND_CHECK(shape == ModelShape::encoder, who, "head=mlm needs shape encoder, got ", name_of(shape));
            ATTEND_CHECK(!is_gated(activation), who,
                         "the MLM head's transform applies the config's activation to one linear; "
                         "activation=", name_of(activation), " needs two");
            break;
        case HeadType::classifier:
            ATTEND_CHECK(shape == ModelShape::encoder, who, "head=classifier (BERT's pooler on the first token) needs "
                         "shape encoder, got ", name_of(shape));
            ATTEND_CHECK(n_classes > 0, who, "head=classifier needs n_classes > 0, got ", n_classes);
            break;
        case HeadType::seq2seq:
            ATTEND_CHECK(shape == ModelShape::encoder_decoder, who, "head=seq2seq needs shape encoder_decoder, got ",
                         name_of(shape));
            break;
        case HeadType::none: break;
    }
    ATTEND_CHECK(n_classes >= 0, who, "n_classes must be ≥ 0, got ", n_classes);
    ATTEND_CHECK(init != InitScheme::normal || (std::isfinite(init_std) && init_std > 0.f), who,
                 "init=normal needs init_std > 0, got ", init_std);
}

// ---- presets ----------------------------------------------------------------------------

// "Attention Is All You Need", base model (Table 3): N=6, d_model=512, d_ff=2048, h=8,
// P_drop=0.1; post-norm residuals (§3.1), ReLU (§3.3), sinusoidal positions (§3.5), embeddings
// multiplied by √d_model and one matrix shared by both embeddings and the pre-softmax linear
// (§3.4), over a shared source–target BPE vocabulary of about 37000 tokens (§5.1). The paper
// has no norm after the last layer of a post-norm stack; eps follows tensor2tensor.
TransformerConfig transformer_base() {
    TransformerConfig c;
    c.name = "transformer_base";
    c.shape = ModelShape::encoder_decoder;
    c.head = HeadType::seq2seq;
    c.vocab_size = 37000;
    c.d_model = 512;
    c.n_layers = 6;
    c.n_encoder_layers = 6;
    c.n_heads = 8;
    c.d_ff = 2048;
    c.max_positions = 5000;
    c.norm = NormType::layer_norm;
    c.norm_placement = NormPlacement::post;
    c.final_norm = false;
    c.norm_eps = 1e-6f;
    c.activation = Activation::relu;
    c.positions = PositionType::sinusoidal;
    c.bias = true;
    c.tie_embeddings = true;
    c.dropout = 0.1f;
    c.embedding_scale = std::sqrt(512.f);
    c.init = InitScheme::xavier;
    return c;
}

// BERT-base (Devlin et al. 2019; Hugging Face bert-base-uncased config.json): L=12, H=768,
// A=12, intermediate 3072, exact GELU, 512 learned positions, 2 token types, LayerNorm on the
// embeddings, post-norm layers, layer_norm_eps 1e-12, N(0, 0.02) init, the MLM head with its
// decoder tied to the word embeddings.
TransformerConfig bert_base() {
    TransformerConfig c;
    c.name = "bert_base";
    c.shape = ModelShape::encoder;
    c.head = HeadType::mlm;
    c.vocab_size = 30522;
    c.d_model = 768;
    c.n_layers = 12;
    c.n_heads = 12;
    c.d_ff = 3072;
    c.max_positions = 512;
    c.type_vocab_size = 2;
    c.norm = NormType::layer_norm;
    c.norm_placement = NormPlacement::post;
    c.final_norm = false;
    c.embedding_norm = true;
    c.norm_eps = 1e-12f;
    c.activation = Activation::gelu;
    c.positions = PositionType::learned;
    c.bias = true;
    c.tie_embeddings = true;
    c.dropout = 0.1f;
    c.attention_dropout = 0.1f;  // attention_probs_dropout_prob
    c.init = InitScheme::normal;
    c.init_std = 0.02f;
    return c;
}

// GPT-2 (Radford et al. 2019; openai-community/gpt2 config.json): n_ctx 1024, vocab 50257,
// pre-norm ("layer normalization was moved to the input of each sub-block") with a final
// LayerNorm, gelu_new (the tanh approximation), eps 1e-5, the LM head tied to wte, N(0, 0.02)
// with residual projections scaled by 1/√(2·n_layer).
TransformerConfig gpt2_small() {
    TransformerConfig c;
    c.name = "gpt2_small";
    c.shape = ModelShape::decoder;
    c.head = HeadType::lm;
    c.vocab_size = 50257;
    c.d_model = 768;
    c.n_layers = 12;
    c.n_heads = 12;
    c.d_ff = 3072;
    c.max_positions = 1024;
    c.norm = NormType::layer_norm;
    c.norm_placement = NormPlacement::pre;
    c.final_norm = true;
    c.norm_eps = 1e-5f;
    c.activation = Activation::gelu_tanh;
    c.positions = PositionType::learned;
    c.bias = true;
    c.tie_embeddings = true;
    c.dropout = 0.1f;
    c.attention_dropout = 0.1f;  // attn_pdrop
    c.init = InitScheme::normal;
    c.init_std = 0.02f;
    c.init_scale_residual = true;
    return c;
}

TransformerConfig gpt2_medium() {
    TransformerConfig c = gpt2_small();
    c.name = "gpt2_medium";
    c.d_model = 1024;
    c.n_layers = 24;
    c.n_heads = 16;
    c.d_ff = 4096;
    return c;
}

// Llama 2 7B (Touvron et al. 2023; meta-llama/Llama-2-7b-hf config.json): hidden 4096,
// intermediate 11008, 32 layers, 32 heads (no GQA at 7B; the 70B uses 8 kv heads), 4096
// positions, RMSNorm with rms_norm_eps 1e-5, SwiGLU, RoPE θ=10000 in the rotate-half layout
// of the HF checkpoints, no biases, an untied LM head.
TransformerConfig llama2_7b() {
    TransformerConfig c;
    c.name = "llama2_7b";
    c.shape = ModelShape::decoder;
    c.head = HeadType::lm;
    c.vocab_size = 32000;
    c.d_model = 4096;
    c.n_layers = 32;
    c.n_heads = 32;
    c.n_kv_heads = 32;
    c.d_ff = 11008;
    c.max_positions = 4096;
    c.norm = NormType::rms_norm;
    c.norm_placement = NormPlacement::pre;
    c.final_norm = true;
    c.norm_eps = 1e-5f;
    c.activation = Activation::swiglu;
    c.positions = PositionType::rope;
    c.rope_layout = RopeLayout::rotate_half;
    c.rope_theta = 10000.f;
    c.bias = false;
    c.tie_embeddings = false;
    c.dropout = 0.f;
    c.init = InitScheme::normal;
    c.init_std = 0.02f;
    return c;
}

namespace {

struct Preset {
    const char* name;
    TransformerConfig (*make)();
};
const Preset kPresets[] = {
    {"transformer_base", transformer_base}, {"bert_base", bert_base}, {"gpt2_small", gpt2_small},
    {"gpt2_medium", gpt2_medium},           {"llama2_7b", llama2_7b},
};

}  // namespace

std::vector<std::string> preset_names() {
    std::vector<std::string> names;
    for (const auto& p : kPresets) names.emplace_back(p.name);
    return names;
}

TransformerConfig preset(const std::string& name) {
    // "gpt2-small" and "gpt2_small" alike; "gpt2" is GPT-2 small, as Hugging Face names it.
    std::string key = name;
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "gpt2") key = "gpt2_small";
    for (const auto& p : kPresets)
        if (key == p.name) return p.make();
    std::ostringstream known;
    for (const auto& p : kPresets) known << (&p == kPresets ? "" : ", ") << p.name;
    ATTEND_CHECK(false, "unknown preset '", name, "'; known presets: ", known.str());
    return {};
}

// ---- parameter count from shapes ---------------------------------------------------------
//
// Mirrors what models/transformer.cpp builds (a test holds the two equal on small configs):
//   embeddings  V·E (+ P·E learned positions) (+ types·E) (+ a norm)
//   block       self-attention (+ cross-attention) + feed-forward + one norm per sub-layer
//   stack       blocks (+ a final norm)
//   heads       lm/seq2seq: V·E unless tied;  mlm: E·E + E, a norm, V (+ V·E unless tied);
//               classifier: pooler E·E + E, classifier E·C + C
int64_t parameter_count(const TransformerConfig& c) {
    c.validate();
    const int64_t E = c.d_model, V = c.vocab_size, F = c.d_ff, kv = c.kv_heads() * c.head_dim();
    const int64_t A = c.attention_width();  // H·Dh
    const int64_t norm = c.norm == NormType::layer_norm ? 2 * E : E;  // LayerNorm: weight and bias
    const int64_t attention = A * E + 2 * kv * E + E * A + (c.bias ? A + 2 * kv + E : c.qkv_bias ? A + 2 * kv : 0);
    const int64_t ff = is_gated(c.activation) ? 3 * E * F + (c.bias ? 2 * F + E : 0)
                                                          : 2 * E * F + (c.bias ? F + E : 0);
    const int64_t block = attention + ff + 2 * norm;
    const int64_t cross_block = block + attention + norm;

    int64_t n = V * E;
    if (c.positions == PositionType::learned) n += c.max_positions * E;
    n += c.type_vocab_size * E;
    if (c.embedding_norm) n += norm;
    switch (c.shape) {
        case ModelShape::encoder:
        case ModelShape::decoder: n += c.n_layers * block + (c.final_norm ? norm : 0); break;
        case ModelShape::encoder_decoder:
            n += c.encoder_layers() * block + c.n_layers * cross_block + (c.final_norm ? 2 * norm : 0);
            break;
    }
    switch (c.head) {
        case HeadType::lm:
        case HeadType::seq2seq: n += c.tie_embeddings ? 0 : V * E; break;
        case HeadType::mlm: n += E * E + E + norm + V + (c.tie_embeddings ? 0 : V * E); break;
        case HeadType::classifier: n += E * E + E + E * c.n_classes + c.n_classes; break;
        case HeadType::none: break;
    }
    return n;
}

}  // namespace attend
