// io/hf_config.cpp — Hugging Face config.json -> TransformerConfig for GPT-2, BERT and Llama.
//
// Each family's reader takes the fields its transformers class reads, with that class's
// defaults (GPT2Config, BertConfig, LlamaConfig), and refuses what our one model cannot
// reproduce (rope scaling, GPT-2's per-layer attention scaling, BERT as a causal decoder,
// relative positions...) rather than load something that would compute different numbers.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attend/error.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/model_loader.hpp"
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

TransformerConfig llama(const Fields& f) {
    if (f.has("rope_scaling")) f.fail("config 'rope_scaling' " + describe_json(f.raw("rope_scaling")) + " is not supported");
    const std::string act = f.text("hidden_act", "silu");
    if (act != "silu") f.fail("config 'hidden_act' is \"" + act + "\"; Llama's SwiGLU needs \"silu\"");
    const bool attention_bias = f.flag("attention_bias", false), mlp_bias = f.flag("mlp_bias", false);
    if (attention_bias != mlp_bias)
        f.fail("config has attention_bias=" + std::string(attention_bias ? "true" : "false") + " but mlp_bias=" +
               (mlp_bias ? "true" : "false") + "; attend's one bias flag needs them equal");
    TransformerConfig c = llama2_7b();
    c.vocab_size = f.size("vocab_size", 32000, ConfigLimits::vocab_size);
    c.d_model = f.size("hidden_size", 4096, ConfigLimits::d_model);
    c.n_layers = f.size("num_hidden_layers", 32, ConfigLimits::n_layers);
    c.n_heads = f.size("num_attention_heads", 32, ConfigLimits::d_model);
    c.n_kv_heads = f.size("num_key_value_heads", c.n_heads, ConfigLimits::d_model);
    c.d_ff = f.size("intermediate_size", 11008, ConfigLimits::d_ff);
    c.max_positions = f.size("max_position_embeddings", 2048, ConfigLimits::max_positions);
    c.norm_eps = f.number("rms_norm_eps", 1e-6f);  // LlamaConfig's default
    c.rope_theta = f.number("rope_theta", 10000.f);
    c.tie_embeddings = f.flag("tie_word_embeddings", false);
    c.bias = attention_bias;
    c.dropout = 0.f;  // Llama has no residual dropout, only on the attention weights
    c.attention_dropout = f.number("attention_dropout", 0.f);
    c.init_std = f.number("initializer_range", 0.02f);
    if (f.has("head_dim") && f.integer("head_dim") != c.d_model / std::max<int64_t>(c.n_heads, 1))
        f.fail("config 'head_dim' " + std::to_string(f.integer("head_dim")) + " differs from hidden_size/num_attention_heads");
    const std::string arch = f.architecture();
    if (arch == "LlamaModel") c.head = HeadType::none;
    else if (arch.empty() || arch == "LlamaForCausalLM") c.head = HeadType::lm;
    else f.fail("architecture " + arch + " is not supported (LlamaForCausalLM and LlamaModel are)");
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
    if (!f.has("model_type")) f.fail("config has no 'model_type' (expected gpt2, bert, llama or attend)");
    const std::string type = f.text("model_type", "");
    HfConfig out;
    if (type == "gpt2") {
        out.config = gpt2(f);
        out.format = CheckpointFormat::hf_gpt2;
    } else if (type == "bert") {
        out.config = bert(f);
        out.format = CheckpointFormat::hf_bert;
    } else if (type == "llama") {
        out.config = llama(f);
        out.format = CheckpointFormat::hf_llama;
    } else {
        f.fail("unknown model_type \"" + type + "\" (attend loads gpt2, bert, llama and its own \"attend\")");
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
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open (a Hugging Face folder needs config.json)");
    std::stringstream buffer;
    buffer << in.rdbuf();
    return hf_config_from_json(buffer.str(), path);
}

}  // namespace attend
