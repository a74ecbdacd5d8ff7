// io/hf_config.cpp — Hugging Face config.json -> TransformerConfig for GPT-2, BERT and the
// Llama family (Llama 2/3, Mistral, Qwen2, Phi-3, Gemma).
//
// Each family's reader takes the fields its transformers class reads, with that class's
// defaults (GPT2Config, BertConfig, LlamaConfig), and refuses what our one model cannot
// reproduce (rope scaling types other than linear/llama3/longrope, GPT-2's per-layer attention
// scaling, BERT as a causal decoder, relative positions, Qwen2's per-layer windows...) rather
// than load something that would compute different numbers.
#include <cmath>
#include <nlohmann/json.hpp>

#include "attend/error.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/read_file.hpp"
#include "io/json_fields.hpp"
#include "io/loader_internal.hpp"

namespace attend {

namespace {

using nlohmann::json;

// Reads one config.json's fields (io/json_fields.hpp: messages name the file and the key).
class Fields {
public:
    Fields(const json& j, std::string where) : j_(j), f_(j, where) {}

    [[noreturn]] void fail(const std::string& what) const { throw Error(f_.file() + ": " + what); }

    bool has(const char* key) const { return f_.has(key); }
    bool is_null(const char* key) const { return j_.contains(key) && j_[key].is_null(); }  // given as null

    int64_t integer(const char* key) const { return f_.integer(key); }
    int64_t integer(const char* key, int64_t fallback) const { return f_.integer_or(key, fallback); }
    // A size: 1 ≤ value ≤ limit (ConfigLimits), checked here so the message names HF's key.
    int64_t size(const char* key, int64_t fallback, int64_t limit, int64_t lo = 1) const {
        return f_.integer_or(key, fallback, lo, limit);
    }
    float number(const char* key, float fallback) const {
        return float(f_.number_or(key, fallback, -3.4e38, 3.4e38));  // finite as a float
    }
    bool flag(const char* key, bool fallback) const { return f_.boolean_or(key, fallback); }
    std::string text(const char* key, const std::string& fallback) const { return f_.string_or(key, fallback); }
    // The first entry of "architectures" ("" when absent).
    std::string architecture() const {
        if (!has("architectures")) return "";
        const json& a = j_["architectures"];
        if (!a.is_array() || a.empty() || !a[0].is_string()) f_.fail("architectures", "a list of class names", a);
        return a[0].get<std::string>();
    }
    const json& raw(const char* key) const { return j_[key]; }
    const std::string& where() const { return f_.file(); }

private:
    const json& j_;
    JsonFields f_;
};

Activation activation_of(const Fields& f, const char* key, const std::string& fallback) {
    const std::string act = f.text(key, fallback);
    if (act == "gelu") return Activation::gelu;  // the exact erf form
    if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") return Activation::gelu_tanh;
    if (act == "relu") return Activation::relu;
    f.fail(std::string("config '") + key + "' is \"" + act + "\"; attend implements gelu, gelu_new, gelu_pytorch_tanh, relu");
}

TransformerConfig gpt2(const Fields& f) {
    if (!f.flag("scale_attn_weights", true)) f.fail("config 'scale_attn_weights' false (unscaled attention) is not supported");
    if (f.flag("scale_attn_by_inverse_layer_idx", false))
        f.fail("config 'scale_attn_by_inverse_layer_idx' true is not supported");
    if (f.flag("add_cross_attention", false)) f.fail("config 'add_cross_attention' true is not supported");
    TransformerConfig c = gpt2_small();  // the family's choices; the sizes follow
    c.vocab_size = f.size("vocab_size", 50257, ConfigLimits::vocab_size);
    c.d_model = f.size("n_embd", 768, ConfigLimits::d_model);
    c.n_layers = f.size("n_layer", 12, ConfigLimits::n_layers);
    c.n_heads = f.size("n_head", 12, ConfigLimits::d_model);
    c.d_ff = f.size("n_inner", 4 * c.d_model, ConfigLimits::d_ff);  // null means 4 · n_embd
    c.max_positions = f.size("n_positions", f.size("n_ctx", 1024, ConfigLimits::max_positions), ConfigLimits::max_positions);
    c.norm_eps = f.number("layer_norm_epsilon", 1e-5f);
    c.activation = activation_of(f, "activation_function", "gelu_new");
    c.dropout = f.number("resid_pdrop", 0.1f);
    c.attention_dropout = f.number("attn_pdrop", 0.1f);
    c.init_std = f.number("initializer_range", 0.02f);
    c.tie_embeddings = f.flag("tie_word_embeddings", true);
    const std::string arch = f.architecture();
    if (arch == "GPT2Model") c.head = HeadType::none;
    else if (arch.empty() || arch == "GPT2LMHeadModel") c.head = HeadType::lm;
    else f.fail("architecture " + arch + " is not supported (GPT2LMHeadModel and GPT2Model are)");
    return c;
}

TransformerConfig bert(const Fields& f) {
    if (f.flag("is_decoder", false)) f.fail("config 'is_decoder' true (BERT as a causal decoder) is not supported");
    if (f.flag("add_cross_attention", false)) f.fail("config 'add_cross_attention' true is not supported");
    const std::string positions = f.text("position_embedding_type", "absolute");
    if (positions != "absolute")
        f.fail("config 'position_embedding_type' is \"" + positions + "\"; only \"absolute\" is supported");
    TransformerConfig c = bert_base();
    c.vocab_size = f.size("vocab_size", 30522, ConfigLimits::vocab_size);
    c.d_model = f.size("hidden_size", 768, ConfigLimits::d_model);
    c.n_layers = f.size("num_hidden_layers", 12, ConfigLimits::n_layers);
    c.n_heads = f.size("num_attention_heads", 12, ConfigLimits::d_model);
    c.d_ff = f.size("intermediate_size", 3072, ConfigLimits::d_ff);
    c.max_positions = f.size("max_position_embeddings", 512, ConfigLimits::max_positions);
    c.type_vocab_size = f.size("type_vocab_size", 2, ConfigLimits::type_vocab_size, 0);
    c.norm_eps = f.number("layer_norm_eps", 1e-12f);
    c.activation = activation_of(f, "hidden_act", "gelu");
    c.dropout = f.number("hidden_dropout_prob", 0.1f);
    c.attention_dropout = f.number("attention_probs_dropout_prob", 0.1f);
    c.init_std = f.number("initializer_range", 0.02f);
    c.tie_embeddings = f.flag("tie_word_embeddings", true);
    const std::string arch = f.architecture();
    if (arch == "BertForMaskedLM" || arch == "BertLMHeadModel" || arch == "BertForPreTraining") {
        c.head = HeadType::mlm;  // BertLMHeadModel without is_decoder is the same bidirectional model
    } else if (arch == "BertForSequenceClassification") {
        c.head = HeadType::classifier;
        c.n_classes = f.has("id2label") && f.raw("id2label").is_object() ? int64_t(f.raw("id2label").size())
                                                                         : f.size("num_labels", 2, ConfigLimits::n_classes);
    } else if (arch.empty() || arch == "BertModel") {
        c.head = HeadType::none;
    } else {
        f.fail("architecture " + arch +
               " is not supported (BertModel, BertForMaskedLM, BertLMHeadModel, BertForPreTraining, "
               "BertForSequenceClassification are)");
    }
    return c;
}

// rope_scaling (HF: "rope_type", or "type" in older configs), for a head dim D and the
// model's max_position_embeddings. Types attend does not implement are refused by name.
RopeScaling rope_scaling_of(const Fields& f, int64_t D, int64_t max_positions) {
    RopeScaling r;
    if (!f.has("rope_scaling")) return r;
    const json& j = f.raw("rope_scaling");
    if (!j.is_object()) json_fail(f.where(), "rope_scaling", "an object (or null)", j);
    const JsonFields s(j, f.where(), "rope_scaling.");
    const std::string type = s.has("rope_type") ? s.string("rope_type") : s.string_or("type", "");
    const auto number = [&](const char* key) { return float(s.number_or(key, 0.0, 1e-30, 3.4e38)); };
    const auto original = [&] {  // Phi-3 keeps it beside rope_scaling; Llama 3.1 inside
        if (s.has("original_max_position_embeddings"))
            return s.integer("original_max_position_embeddings", 1, ConfigLimits::max_positions);
        return f.size("original_max_position_embeddings", 0, ConfigLimits::max_positions, 1);
    };
    if (type == "default") return r;
    if (type == "linear") {
        r.rope_type = RopeScalingType::linear;
        if (!s.has("factor")) s.fail("factor", "a positive number", nullptr);
        r.factor = number("factor");
    } else if (type == "llama3") {
        r.rope_type = RopeScalingType::llama3;
        for (const char* key : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
            if (!s.has(key)) s.fail(key, "a positive number (llama3 scaling needs it)", nullptr);
        r.factor = number("factor");
        r.low_freq_factor = number("low_freq_factor");
        r.high_freq_factor = number("high_freq_factor");
        r.original_max_position_embeddings = original();
        if (r.high_freq_factor <= r.low_freq_factor)
            s.fail("high_freq_factor", "must exceed low_freq_factor (" + std::to_string(r.low_freq_factor) + ")");
    } else if (type == "longrope" || type == "su") {
        r.rope_type = RopeScalingType::longrope;
        r.original_max_position_embeddings = original();
        if (r.original_max_position_embeddings <= 0)
            s.fail("original_max_position_embeddings", "a positive integer (here or beside rope_scaling)", nullptr);
        for (auto [key, list] : {std::pair{"short_factor", &r.short_factor}, std::pair{"long_factor", &r.long_factor}}) {
            const json& a = s.required(key);
            if (!a.is_array() || int64_t(a.size()) != D / 2)
                s.fail(key, "a list of " + std::to_string(D / 2) + " numbers (head_dim / 2)", a);
            for (size_t i = 0; i < a.size(); ++i)
                list->push_back(float(json_number(a[i], f.where(), s.field(key) + "[" + std::to_string(i) + "]",
                                                  1e-30, 3.4e38)));
        }
        // Phi-3: the ratio of the context it was extended to and the one it was trained at.
        const double ratio = double(max_positions) / double(r.original_max_position_embeddings);
        r.attention_factor = s.has("attention_factor") ? number("attention_factor")
                             : ratio <= 1.0
                                 ? 1.f
                                 : float(std::sqrt(1.0 + std::log(ratio) /
                                                             std::log(double(r.original_max_position_embeddings))));
    } else {
        s.fail(s.has("rope_type") ? "rope_type" : "type",
               "\"" + type + "\" is not supported (attend implements default, linear, llama3, longrope/su)");
    }
    return r;
}

// The Llama family and the models laid out like it. Each has its transformers config class's
// defaults; what differs between them is data here, the blocks are the same.
struct LlamaFamily {
    const char* model_type;   // "llama", ...
    const char* causal_lm;    // "LlamaForCausalLM"
    const char* base_model;   // "LlamaModel"
    int64_t vocab, hidden, layers, heads, kv_heads, ff, positions;  // kv_heads 0: = heads
    float eps;
    bool tie;
    CheckpointFormat format;
};

constexpr LlamaFamily kLlama{"llama", "LlamaForCausalLM", "LlamaModel", 32000, 4096, 32, 32, 0, 11008, 2048,
                             1e-6f, false, CheckpointFormat::hf_llama};
constexpr LlamaFamily kMistral{"mistral", "MistralForCausalLM", "MistralModel", 32000, 4096, 32, 32, 8, 14336,
                               4096 * 32, 1e-6f, false, CheckpointFormat::hf_llama};
constexpr LlamaFamily kQwen2{"qwen2", "Qwen2ForCausalLM", "Qwen2Model", 151936, 4096, 32, 32, 32, 22016, 32768,
                             1e-6f, false, CheckpointFormat::hf_llama};
constexpr LlamaFamily kPhi3{"phi3", "Phi3ForCausalLM", "Phi3Model", 32064, 3072, 32, 32, 0, 8192, 4096,
                            1e-5f, false, CheckpointFormat::hf_phi3};
constexpr LlamaFamily kGemma{"gemma", "GemmaForCausalLM", "GemmaModel", 256000, 3072, 28, 16, 16, 24576, 8192,
                             1e-6f, true, CheckpointFormat::hf_gemma};

TransformerConfig llama_family(const Fields& f, const LlamaFamily& family) {
    const std::string type = family.model_type;
    const bool gemma = type == "gemma", phi3 = type == "phi3", qwen2 = type == "qwen2", mistral = type == "mistral";
    TransformerConfig c = llama2_7b();
    if (gemma) {
        // GemmaMLP reads hidden_activation and ignores hidden_act (absent: gelu_pytorch_tanh).
        const std::string act = f.text("hidden_activation", "gelu_pytorch_tanh");
        if (act != "gelu_pytorch_tanh" && act != "gelu_new" && act != "gelu_fast")
            f.fail("config 'hidden_activation' is \"" + act +
                   "\"; attend's GeGLU is the tanh form (gelu_pytorch_tanh)");
        c.activation = Activation::geglu;
    } else {
        const std::string act = f.text("hidden_act", "silu");
        if (act != "silu") f.fail("config 'hidden_act' is \"" + act + "\"; the " + type + " SwiGLU needs \"silu\"");
    }
    const bool attention_bias = f.flag("attention_bias", false), mlp_bias = f.flag("mlp_bias", false);
    if (attention_bias != mlp_bias)
        f.fail("config has attention_bias=" + std::string(attention_bias ? "true" : "false") + " but mlp_bias=" +
               (mlp_bias ? "true" : "false") + "; attend's one bias flag needs them equal");
    if (qwen2 && f.flag("use_sliding_window", false))
        f.fail("config 'use_sliding_window' true is not supported for qwen2 (its window covers only the layers "
               "from max_window_layers on)");
    if (phi3 && f.number("partial_rotary_factor", 1.f) != 1.f)
        f.fail("config 'partial_rotary_factor' " + std::to_string(f.number("partial_rotary_factor", 1.f)) +
               " is not supported (RoPE on the whole head only)");
    c.vocab_size = f.size("vocab_size", family.vocab, ConfigLimits::vocab_size);
    c.d_model = f.size("hidden_size", family.hidden, ConfigLimits::d_model);
    c.n_layers = f.size("num_hidden_layers", family.layers, ConfigLimits::n_layers);
    c.n_heads = f.size("num_attention_heads", family.heads, ConfigLimits::d_model);
    c.n_kv_heads = f.size("num_key_value_heads", family.kv_heads ? family.kv_heads : c.n_heads, ConfigLimits::d_model);
    c.d_ff = f.size("intermediate_size", family.ff, ConfigLimits::d_ff);
    c.max_positions = f.size("max_position_embeddings", family.positions, ConfigLimits::max_positions);
    c.norm_eps = f.number("rms_norm_eps", family.eps);
    c.rope_theta = f.number("rope_theta", 10000.f);
    c.tie_embeddings = f.flag("tie_word_embeddings", family.tie);
    c.bias = attention_bias;
    c.qkv_bias = qwen2 && !attention_bias;  // Qwen2Attention: q/k/v with bias, o_proj without
    c.dropout = phi3 ? f.number("resid_pdrop", 0.f) : 0.f;  // Llama has no residual dropout
    c.attention_dropout = f.number("attention_dropout", 0.f);
    c.init_std = f.number("initializer_range", 0.02f);
    // head_dim: its own field in Gemma (default 256) and newer Llama/Mistral configs.
    const int64_t natural = c.d_model % c.n_heads == 0 ? c.d_model / c.n_heads : 0;
    const int64_t head_dim = f.size("head_dim", gemma ? 256 : natural, ConfigLimits::d_model);
    if (head_dim == 0)
        f.fail("config: hidden_size " + std::to_string(c.d_model) + " is not divisible by num_attention_heads " +
               std::to_string(c.n_heads) + " and there is no 'head_dim'");
    c.head_size = head_dim == natural ? 0 : head_dim;
    if (gemma) c.embedding_scale = float(std::sqrt(double(c.d_model)));  // GemmaModel's normalizer
    // sliding_window: Mistral's default is 4096 when the key is absent; null means none.
    // Phi-3 has the key too (null by default). Llama, Qwen2 (without use_sliding_window), Gemma: none.
    if (mistral || phi3) {
        const bool null = f.is_null("sliding_window");
        c.sliding_window = null ? 0 : f.size("sliding_window", mistral ? 4096 : 0, ConfigLimits::max_positions, 0);
    }
    c.rope_scaling = rope_scaling_of(f, c.head_dim(), c.max_positions);
    const std::string arch = f.architecture();
    if (arch == family.base_model) c.head = HeadType::none;
    else if (arch.empty() || arch == family.causal_lm) c.head = HeadType::lm;
    else f.fail("architecture " + arch + " is not supported (" + family.causal_lm + " and " + family.base_model + " are)");
    return c;
}

// A special token id: an integer, or a list of them (newer configs list several EOS ids;
// the first is the one to emit), or absent (-1).
// Each must be a token of the model's vocabulary.
int64_t special_id(const Fields& f, const char* key, int64_t vocab_size) {
    if (!f.has(key)) return -1;
    const json& v = f.raw(key);
    const std::string what = "a token id in [0, " + std::to_string(vocab_size) + ") (the model's vocabulary)";
    if (v.is_array()) {
        if (v.empty()) return -1;
        for (size_t i = 0; i < v.size(); ++i)
            json_integer(v[i], f.where(), std::string(key) + "[" + std::to_string(i) + "]", 0, vocab_size - 1);
        return v[0].get<int64_t>();
    }
    if (!v.is_number_integer()) json_fail(f.where(), key, what, v);
    return json_integer(v, f.where(), key, 0, vocab_size - 1);
}

}  // namespace

HfConfig parse_hf_config(const std::string& text, const std::string& where) {
    const json j = parse_json_object(text, where);
    const Fields f(j, where);
    if (!f.has("model_type"))
        f.fail("config has no 'model_type' (expected gpt2, bert, llama, mistral, qwen2, phi3, gemma or attend)");
    const std::string type = f.text("model_type", "");
    HfConfig out;
    if (type == "gpt2") {
        out.config = gpt2(f);
        out.format = CheckpointFormat::hf_gpt2;
    } else if (type == "bert") {
        out.config = bert(f);
        out.format = CheckpointFormat::hf_bert;
    } else {
        const LlamaFamily* family = nullptr;
        for (const LlamaFamily* fam : {&kLlama, &kMistral, &kQwen2, &kPhi3, &kGemma})
            if (type == fam->model_type) family = fam;
        if (!family)
            f.fail("unknown model_type \"" + type +
                   "\" (attend loads gpt2, bert, llama, mistral, qwen2, phi3, gemma and its own \"attend\")");
        out.config = llama_family(f, *family);
        out.format = family->format;
    }
    out.config.name = type + " " + where;
    out.config.init_scale_residual = type == "gpt2";
    out.bos_id = special_id(f, "bos_token_id", out.config.vocab_size);
    out.eos_id = special_id(f, "eos_token_id", out.config.vocab_size);
    out.pad_id = special_id(f, "pad_token_id", out.config.vocab_size);
    try {
        out.config.validate();
    } catch (const Error& e) {
        throw Error(where + ": " + e.what());
    }
    return out;
}

TransformerConfig hf_config_from_json(const std::string& text, const std::string& where) {
    // Our own config JSON is accepted here too, so one reader serves any config.json.
    {
        json j = json::parse(text, nullptr, false);
        if (j.is_object() && j.contains("model_type") && j["model_type"] == "attend") return config_from_json(text, where);
    }
    return parse_hf_config(text, where).config;
}

TransformerConfig read_hf_config(const std::string& path) {
    return hf_config_from_json(read_file(path, "Hugging Face config.json", kMaxJsonBytes), path);
}

}  // namespace attend
