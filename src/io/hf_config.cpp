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
#include "io/loader_internal.hpp"

namespace attend {

namespace {

using nlohmann::json;

// Reads one config.json's fields with the messages naming the file and the key.
class Fields {
public:
    Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

    [[noreturn]] void fail(const std::string& what) const { throw Error(where_ + ": " + what); }

    bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

    int64_t integer(const char* key) const {
        if (!has(key)) fail(std::string("config has no '") + key + "'");
        return integer(key, 0);
    }
    int64_t integer(const char* key, int64_t fallback) const {
        if (!has(key)) return fallback;
        if (!j_[key].is_number_integer()) fail(std::string("config '") + key + "' is " + j_[key].dump() + ", not an integer");
        return j_[key].get<int64_t>();
    }
    float number(const char* key, float fallback) const {
        if (!has(key)) return fallback;
        if (!j_[key].is_number()) fail(std::string("config '") + key + "' is " + j_[key].dump() + ", not a number");
        return float(j_[key].get<double>());
    }
    bool flag(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        if (!j_[key].is_boolean()) fail(std::string("config '") + key + "' is " + j_[key].dump() + ", not true/false");
        return j_[key].get<bool>();
    }
    std::string text(const char* key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        if (!j_[key].is_string()) fail(std::string("config '") + key + "' is " + j_[key].dump() + ", not a string");
        return j_[key].get<std::string>();
    }
    // The first entry of "architectures" ("" when absent).
    std::string architecture() const {
        if (!has("architectures")) return "";
        const json& a = j_["architectures"];
        if (!a.is_array() || a.empty() || !a[0].is_string()) fail("config 'architectures' is not a list of names");
        return a[0].get<std::string>();
    }
    const json& raw(const char* key) const { return j_[key]; }
    const std::string& where() const { return where_; }

private:
    const json& j_;
    std::string where_;
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
    c.vocab_size = f.integer("vocab_size", 50257);
    c.d_model = f.integer("n_embd", 768);
    c.n_layers = f.integer("n_layer", 12);
    c.n_heads = f.integer("n_head", 12);
    c.d_ff = f.integer("n_inner", 4 * c.d_model);  // null means 4 · n_embd
    c.max_positions = f.integer("n_positions", f.integer("n_ctx", 1024));
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
    c.vocab_size = f.integer("vocab_size", 30522);
    c.d_model = f.integer("hidden_size", 768);
    c.n_layers = f.integer("num_hidden_layers", 12);
    c.n_heads = f.integer("num_attention_heads", 12);
    c.d_ff = f.integer("intermediate_size", 3072);
    c.max_positions = f.integer("max_position_embeddings", 512);
    c.type_vocab_size = f.integer("type_vocab_size", 2);
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
                                                                         : f.integer("num_labels", 2);
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
    if (f.has("rope_scaling")) f.fail("config 'rope_scaling' " + f.raw("rope_scaling").dump() + " is not supported");
    const std::string act = f.text("hidden_act", "silu");
    if (act != "silu") f.fail("config 'hidden_act' is \"" + act + "\"; Llama's SwiGLU needs \"silu\"");
    const bool attention_bias = f.flag("attention_bias", false), mlp_bias = f.flag("mlp_bias", false);
    if (attention_bias != mlp_bias)
        f.fail("config has attention_bias=" + std::string(attention_bias ? "true" : "false") + " but mlp_bias=" +
               (mlp_bias ? "true" : "false") + "; attend's one bias flag needs them equal");
    TransformerConfig c = llama2_7b();
    c.vocab_size = f.integer("vocab_size", 32000);
    c.d_model = f.integer("hidden_size", 4096);
    c.n_layers = f.integer("num_hidden_layers", 32);
    c.n_heads = f.integer("num_attention_heads", 32);
    c.n_kv_heads = f.integer("num_key_value_heads", c.n_heads);
    c.d_ff = f.integer("intermediate_size", 11008);
    c.max_positions = f.integer("max_position_embeddings", 2048);
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
int64_t special_id(const Fields& f, const char* key) {
    if (!f.has(key)) return -1;
    const json& v = f.raw(key);
    if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
    return f.integer(key, -1);
}

}  // namespace

HfConfig parse_hf_config(const std::string& text, const std::string& where) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw Error(where + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) throw Error(where + ": not a JSON object");
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
    out.bos_id = special_id(f, "bos_token_id");
    out.eos_id = special_id(f, "eos_token_id");
    out.pad_id = special_id(f, "pad_token_id");
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
