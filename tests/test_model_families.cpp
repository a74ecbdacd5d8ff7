// The Llama-family models people download — Llama 3, Qwen2, Mistral, Phi-3, Gemma — from
// Hugging Face folders, held to the plain-PyTorch references of tests/reference/hf_families.py
// (written from each family's modelling code in transformers).
//
// The script writes each tiny random model as save_pretrained would (config.json and
// model.safetensors under HF names) into <build>/reference/hf_families/<family>/; here
// load_model reads the folder like any user's download, and
//   - its config says what the family is (rope_scaling, biases, window, head_dim, GeGLU...);
//   - one forward of 28 tokens (past Mistral's window of 5 and Phi-3's original 16 positions)
//     gives the reference's logits on both attention paths, ≤ 1e-4 relative;
//   - greedy decoding with the KV cache (the prompt in one step, then a token a step, as
//     transformers' generate) gives the reference's 22 ids, id for id;
//   - saved in our own format and loaded back, the model gives the same logits bit for bit.
// Then configs each family's reader must refuse, each with a one-line error naming the file
// and the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "attend/autograd.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/nn/module.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::ids_of;
using attend::testing::close_to;
using attend::testing::error_of;
using attend::testing::relative_error;

namespace {

constexpr double kTolerance = 1e-4;

const std::map<std::string, Tensor>& reference() {
    static const std::map<std::string, Tensor> r = attend::testing::load_reference("hf_families");
    return r;
}

Tensor ref(const std::string& key) {
    auto it = reference().find(key);
    if (it == reference().end()) {
        ADD_FAILURE() << "hf_families.safetensors has no tensor " << key;
        return Tensor();
    }
    return it->second;
}

std::string folder(const std::string& family) { return std::string(ATTEND_REFERENCE_DIR) + "/hf_families/" + family; }

TokenBatch one_sequence(const std::vector<int64_t>& ids) {
    TokenBatch b;
    b.ids = ids;
    b.shape = {1, int64_t(ids.size())};
    return b;
}

// Greedy decoding with the KV cache: the prompt in one step, then one token a step.
std::vector<int64_t> greedy(const Transformer& model, const std::vector<int64_t>& prompt, int64_t steps) {
    NoGradGuard no_grad;
    KVCache cache = model.make_cache(1);
    TokenBatch step = one_sequence(prompt);
    std::vector<int64_t> out;
    for (int64_t s = 0; s < steps; ++s) {
        const Tensor logits = model.forward_step(step, cache);  // (1, Tq, V)
        const int64_t Tq = logits.size(1), V = logits.size(2);
        const Tensor last = logits.slice(1, Tq - 1, Tq).contiguous();
        const float* p = last.data();
        out.push_back(int64_t(std::max_element(p, p + V) - p));
        step = one_sequence({out.back()});
    }
    return out;
}

class ModelFamily : public ::testing::TestWithParam<const char*> {
protected:
    std::string family() const { return GetParam(); }
    Tensor ref(const std::string& key) const { return ::ref(family() + "." + key); }
};

TEST_P(ModelFamily, ConfigSaysWhatTheFamilyIs) {
    const LoadedModel m = load_model(folder(family()));
    const TransformerConfig& c = m.config;
    EXPECT_EQ(m.format, ModelFormat::hf_folder);
    EXPECT_EQ(c.shape, ModelShape::decoder);
    EXPECT_EQ(c.norm, NormType::rms_norm);
    EXPECT_EQ(c.positions, PositionType::rope);
    EXPECT_EQ(c.rope_layout, RopeLayout::rotate_half);
    const std::string f = family();
    EXPECT_EQ(c.activation, f == "gemma" ? Activation::geglu : Activation::swiglu);
    EXPECT_EQ(c.qkv_bias, f == "qwen2");
    EXPECT_FALSE(c.bias);
    EXPECT_EQ(c.sliding_window, f == "mistral" ? 5 : 0);
    EXPECT_EQ(c.head_dim(), f == "mistral" ? 12 : f == "gemma" ? 24 : 8);
    EXPECT_EQ(c.tie_embeddings, f == "qwen2" || f == "gemma");
    EXPECT_FLOAT_EQ(c.embedding_scale, f == "gemma" ? std::sqrt(32.f) : 1.f);
    const RopeScaling& r = c.rope_scaling;
    if (f == "llama3") {
        EXPECT_EQ(r.rope_type, RopeScalingType::llama3);
        EXPECT_EQ(r.factor, 8.f);
        EXPECT_EQ(r.original_max_position_embeddings, 8);
        EXPECT_EQ(c.rope_theta, 500000.f);
    } else if (f == "phi3") {
        EXPECT_EQ(r.rope_type, RopeScalingType::longrope);
        EXPECT_EQ(r.original_max_position_embeddings, 16);
        EXPECT_EQ(r.long_factor, (std::vector<float>{1.5f, 4.f, 9.f, 21.f}));
        EXPECT_FLOAT_EQ(r.attention_factor, float(std::sqrt(1.0 + std::log(4.0) / std::log(16.0))));
    } else {
        EXPECT_EQ(r.rope_type, RopeScalingType::none);
    }
    EXPECT_EQ(parameter_count(c), [&] {
        int64_t n = 0;
        for (const auto& [name, p] : const_cast<Transformer&>(m.model).parameters()) n += p->numel();
        return n;
    }());
}

TEST_P(ModelFamily, LogitsMatchPyTorch) {
    const LoadedModel m = load_model(folder(family()));
    NoGradGuard no_grad;
    std::vector<std::string> cases = {""};
    if (family() == "phi3") cases.push_back("short_");  // within the original context: short factors
    for (const std::string& which : cases) {
        const Tensor ids = ref(which + "ids"), expected = ref(which + "logits");
        ASSERT_TRUE(ids.defined() && expected.defined());
        for (AttentionPath path : {AttentionPath::fused, AttentionPath::reference}) {
            ForwardMode mode;
            mode.attention_path = path;
            const Tensor logits = m.model.forward(one_sequence(ids_of(ids)), mode);  // (1, T, V)
            const Tensor rows = logits.reshape({logits.size(1), logits.size(2)});
            const std::string what = family() + " " + which + "logits (T=" + std::to_string(ids.size(1)) +
                                     (path == AttentionPath::fused ? ", fused)" : ", reference)");
            EXPECT_TRUE(close_to(rows, expected, kTolerance, what));
            std::printf("%s: relative error %.3g\n", what.c_str(), relative_error(rows, expected));
        }
    }
}

TEST_P(ModelFamily, GreedyDecodingMatchesPyTorch) {
    const LoadedModel m = load_model(folder(family()));
    const std::vector<int64_t> prompt = ids_of(ref("prompt")), expected = ids_of(ref("greedy"));
    ASSERT_EQ(prompt.size(), 10u);
    ASSERT_EQ(expected.size(), 22u);  // to position 31: 6 windows of Mistral's 5, past Phi-3's 16
    EXPECT_GT(ref("margin").to_vector().at(0), 5e-3f);  // far above float32 noise
    EXPECT_EQ(greedy(m.model, prompt, int64_t(expected.size())), expected);
}

TEST_P(ModelFamily, OurFormatKeepsTheFamily) {
    const LoadedModel m = load_model(folder(family()));
    const std::string path = ::testing::TempDir() + "attend_family_" + family() + ".safetensors";
    save_model(path, m.model);
    const LoadedModel back = load_model(path);
    std::filesystem::remove(path);
    EXPECT_EQ(back.config.rope_scaling, m.config.rope_scaling);
    EXPECT_EQ(back.config.sliding_window, m.config.sliding_window);
    EXPECT_EQ(back.config.head_size, m.config.head_size);
    EXPECT_EQ(back.config.qkv_bias, m.config.qkv_bias);
    EXPECT_EQ(back.config.activation, m.config.activation);
    NoGradGuard no_grad;
    const TokenBatch ids = one_sequence(ids_of(ref("ids")));
    const Tensor a = m.model.forward(ids), b = back.model.forward(ids);
    EXPECT_EQ(a.to_vector(), b.to_vector());
}

INSTANTIATE_TEST_SUITE_P(Hf, ModelFamily, ::testing::Values("llama3", "qwen2", "mistral", "phi3", "gemma"));

// ---- the sliding window over a KV cache, against the whole-sequence forward ------------------

// Decoding a token at a time over the cache (keys past the window kept but masked) gives the
// rows of one forward over the whole sequence, where the fused kernel skips whole tiles
// outside the window; and the window changes the numbers, so the test can fail.
TEST(ModelFamilyWindow, CachedDecodingEqualsTheWholeForward) {
    TransformerConfig c = llama2_7b();
    c.name = "windowed";
    c.vocab_size = 40, c.d_model = 24, c.n_layers = 2, c.n_heads = 3, c.n_kv_heads = 1, c.head_size = 10;
    c.d_ff = 32, c.max_positions = 64, c.sliding_window = 3, c.qkv_bias = true;
    const Transformer model(c, 7);
    std::vector<int64_t> ids;
    for (int64_t t = 0; t < 40; ++t) ids.push_back((t * 7 + 3) % c.vocab_size);
    NoGradGuard no_grad;
    const Tensor whole = model.forward(one_sequence(ids));  // (1, 40, V)
    const int64_t V = c.vocab_size;
    KVCache cache = model.make_cache(1);
    const int64_t prompt = 5;
    std::vector<float> stepped = model.forward_step(one_sequence({ids.begin(), ids.begin() + prompt}), cache).to_vector();
    for (size_t t = prompt; t < ids.size(); ++t) {
        const std::vector<float> row = model.forward_step(one_sequence({ids[t]}), cache).to_vector();
        stepped.insert(stepped.end(), row.begin(), row.end());
    }
    EXPECT_TRUE(close_to(Tensor::from_vector({1, int64_t(ids.size()), V}, stepped), whole, 1e-5,
                         "decoded over the cache vs the whole forward"));

    TransformerConfig unwindowed = c;
    unwindowed.sliding_window = 0;
    Transformer full(unwindowed, 1);
    load_parameters(full.parameters(), [&] {
        std::map<std::string, Tensor> named;
        for (const auto& [name, p] : const_cast<Transformer&>(model).parameters()) named[name] = *p;
        return named;
    }(), "", true);
    const Tensor other = full.forward(one_sequence(ids));
    // Rows within the first window see the same keys; later rows do not.
    EXPECT_TRUE(close_to(other.slice(1, 0, 3), whole.slice(1, 0, 3), 1e-6, "rows inside the window"));
    EXPECT_GT(relative_error(other.slice(1, 3, 40), whole.slice(1, 3, 40)), 1e-3);
}

// ---- what the readers refuse ---------------------------------------------------------------

std::string refused(const std::string& json) {
    return error_of([&] { hf_config_from_json(json, "families/config.json"); });
}

TEST(ModelFamilyConfig, RefusesWhatItCannotCompute) {
    const std::string base = R"("vocab_size": 50, "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 64)";
    const auto config = [&](const std::string& type, const std::string& extra) {
        return "{\"model_type\": \"" + type + "\", " + base + (extra.empty() ? "" : ", " + extra) + "}";
    };
    struct Case {
        std::string json;
        std::vector<std::string> mentions;
    };
    const Case cases[] = {
        {config("llama", R"("rope_scaling": {"rope_type": "yarn", "factor": 4})"),
         {"rope_scaling.rope_type", "\"yarn\" is not supported"}},
        {config("llama", R"("rope_scaling": {"type": "dynamic", "factor": 2})"), {"rope_scaling.type", "dynamic"}},
        {config("llama", R"("rope_scaling": {"rope_type": "llama3", "factor": 8, "high_freq_factor": 4,
                 "original_max_position_embeddings": 8})"),
         {"rope_scaling.low_freq_factor"}},
        {config("llama", R"("rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 4,
                 "high_freq_factor": 1, "original_max_position_embeddings": 8})"),
         {"rope_scaling.high_freq_factor", "must exceed"}},
        {config("llama", R"("rope_scaling": {"rope_type": "linear", "factor": -2})"), {"rope_scaling.factor"}},
        {config("llama", R"("rope_scaling": [1, 2])"), {"\"rope_scaling\"", "an object"}},
        {config("phi3", R"("original_max_position_embeddings": 16, "rope_scaling": {"type": "longrope",
                 "short_factor": [1, 1, 1], "long_factor": [1, 1, 1, 1]})"),
         {"rope_scaling.short_factor", "a list of 4 numbers"}},
        {config("phi3", R"("rope_scaling": {"type": "su", "short_factor": [1, 1, 1, 1], "long_factor": [1, 1, 1, 1]})"),
         {"original_max_position_embeddings"}},
        {config("phi3", R"("original_max_position_embeddings": 16, "rope_scaling": {"type": "longrope",
                 "short_factor": [1, 1, 1, 1], "long_factor": [1, 0, 1, 1]})"),
         {"rope_scaling.long_factor[1]"}},
        {config("phi3", R"("partial_rotary_factor": 0.5)"), {"partial_rotary_factor"}},
        {config("qwen2", R"("use_sliding_window": true, "sliding_window": 8)"), {"use_sliding_window"}},
        {config("mistral", R"("sliding_window": -3)"), {"\"sliding_window\"", "-3"}},
        {config("mistral", R"("sliding_window": "four")"), {"\"sliding_window\""}},
        {config("mistral", R"("head_dim": 7)"), {"head_dim", "even"}},
        {config("gemma", R"("hidden_activation": "gelu")"), {"'hidden_activation'", "tanh"}},
        {config("gemma", R"("hidden_activation": "relu")"), {"'hidden_activation'"}},
        {config("qwen2", R"("hidden_act": "gelu")"), {"'hidden_act'", "silu"}},
        {config("phi3", R"("architectures": ["Phi3ForSequenceClassification"])"), {"Phi3ForSequenceClassification"}},
        {config("falcon", ""), {"unknown model_type \"falcon\"", "mistral, qwen2, phi3, gemma"}},
    };
    for (const Case& c : cases) {
        const std::string message = refused(c.json);
        EXPECT_EQ(message.rfind("families/config.json", 0), 0u) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
        for (const std::string& m : c.mentions) EXPECT_MENTIONS(message, m);
    }
}

TEST(ModelFamilyConfig, DefaultsOfEachFamily) {
    // Keys absent: each family's transformers config class default.
    const TransformerConfig mistral = hf_config_from_json(R"({"model_type": "mistral", "vocab_size": 50,
        "hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 16})", "m.json");
    EXPECT_EQ(mistral.sliding_window, 4096);  // MistralConfig's defaults: a window, 8 kv heads
    EXPECT_EQ(mistral.kv_heads(), 8);
    const TransformerConfig unwindowed = hf_config_from_json(R"({"model_type": "mistral", "vocab_size": 50,
        "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 1, "sliding_window": null})", "m.json");
    EXPECT_EQ(unwindowed.sliding_window, 0);  // Mistral v0.2 on: null, no window
    const TransformerConfig gemma = hf_config_from_json(R"({"model_type": "gemma", "vocab_size": 50,
        "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 1})", "g.json");
    EXPECT_EQ(gemma.head_dim(), 256);  // GemmaConfig's default, whatever the width
    EXPECT_EQ(gemma.activation, Activation::geglu);
    EXPECT_TRUE(gemma.tie_embeddings);
    const TransformerConfig phi3 = hf_config_from_json(R"({"model_type": "phi3", "vocab_size": 50,
        "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "rope_scaling": null, "sliding_window": 2047})", "p.json");
    EXPECT_EQ(phi3.sliding_window, 2047);
    EXPECT_FLOAT_EQ(phi3.norm_eps, 1e-5f);
    const TransformerConfig llama = hf_config_from_json(R"({"model_type": "llama", "vocab_size": 50,
        "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "rope_scaling": {"rope_type": "default"}, "head_dim": 8})", "l.json");
    EXPECT_EQ(llama.rope_scaling.rope_type, RopeScalingType::none);
    EXPECT_EQ(llama.head_size, 0);  // 16 / 2: the natural width is not stored
}

}  // namespace
