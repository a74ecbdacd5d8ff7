// Real checkpoints from ../shared/data through attend::load_model, held to PyTorch.
//
//   stories260K, aidreams260K  trained llama2.c models: logits for a real sentence and for a
//                              full-context random sequence against tests/reference/llama2c.py
//                              (model.py's structure in float64), and 60 greedy tokens from
//                              "Once upon a time" decoded with the KV cache, id for id.
//   gpt2_fake_hf, bert_tiniest_hf  HF save_pretrained folders (random weights) against the
//                              HF-structured modules of tests/reference/models.py, via
//                              tests/reference/hf_models.py.
//
// The shared data folder is required: a missing file fails the test, it never skips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "attend/autograd.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "support/files.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::ids_of;
using attend::testing::close_to;
using attend::testing::relative_error;
using attend::testing::shared_data;

namespace {

constexpr double kTolerance = 1e-4;

const std::map<std::string, Tensor>& reference(const std::string& name) {
    static std::map<std::string, std::map<std::string, Tensor>> cache;
    auto it = cache.find(name);
    if (it == cache.end()) it = cache.emplace(name, attend::testing::load_reference(name)).first;
    return it->second;
}

Tensor expect_tensor(const std::string& file, const std::string& key) {
    const auto& r = reference(file);
    auto it = r.find(key);
    if (it == r.end()) {
        ADD_FAILURE() << file << ".safetensors has no tensor " << key;
        return Tensor();
    }
    return it->second;
}

TokenBatch batch_of(const Tensor& ids, const Tensor& lengths = Tensor(), const Tensor& types = Tensor()) {
    TokenBatch b;
    b.ids = ids_of(ids);
    b.shape = ids.dim() == 1 ? Shape{1, ids.size(0)} : ids.shape();
    b.lengths = ids_of(lengths);
    b.token_types = ids_of(types);
    return b;
}

// The rows of the real tokens only: (B, T, V) -> (Σ lengths, V). Padding rows are defined
// but meaningless, and torch and we need not agree on them.
Tensor real_rows(const Tensor& logits, const std::vector<int64_t>& lengths) {
    std::vector<float> out;
    const int64_t T = logits.size(1), V = logits.size(2);
    const std::vector<float> all = logits.contiguous().to_vector();
    int64_t rows = 0;
    for (size_t b = 0; b < lengths.size(); ++b)
        for (int64_t t = 0; t < lengths[b]; ++t, ++rows)
            out.insert(out.end(), all.begin() + (int64_t(b) * T + t) * V, all.begin() + (int64_t(b) * T + t + 1) * V);
    return Tensor::from_vector({rows, V}, out);
}

// Greedy decoding with the KV cache: the prompt in one step, then one token a step.
std::vector<int64_t> greedy(const Transformer& model, const std::vector<int64_t>& prompt, int64_t steps) {
    NoGradGuard no_grad;
    KVCache cache = model.make_cache(1);
    TokenBatch step;
    step.ids = prompt;
    step.shape = {1, int64_t(prompt.size())};
    std::vector<int64_t> out;
    for (int64_t s = 0; s < steps; ++s) {
        const Tensor logits = model.forward_step(step, cache);  // (1, Tq, V)
        const int64_t Tq = logits.size(1), V = logits.size(2);
        const Tensor last = logits.slice(1, Tq - 1, Tq).contiguous();
        const float* p = last.data();
        const int64_t next = int64_t(std::max_element(p, p + V) - p);
        out.push_back(next);
        step.ids = {next};
        step.shape = {1, 1};
    }
    return out;
}

// ---- llama2.c checkpoints --------------------------------------------------------------

class Llama2c : public ::testing::TestWithParam<const char*> {
protected:
    std::string model_name() const { return GetParam(); }
    std::string checkpoint() const { return shared_data(model_name() + "/" + model_name() + ".bin"); }
    Tensor ref(const std::string& key) const { return expect_tensor("llama2c", model_name() + "." + key); }
};

TEST_P(Llama2c, LoadsWithItsHeaderAndTokenizer) {
    const LoadedModel m = load_model(checkpoint());
    EXPECT_EQ(m.format, ModelFormat::llama2c);
    const TransformerConfig& c = m.config;
    EXPECT_EQ(c.d_model, 64);
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_EQ(c.d_ff, 172);
    EXPECT_EQ(c.rope_layout, RopeLayout::interleaved);
    EXPECT_EQ(c.activation, Activation::swiglu);
    EXPECT_TRUE(c.tie_embeddings);
    const bool stories = model_name() == "stories260K";  // 5 layers, GQA 8/4, 512 positions
    EXPECT_EQ(c.n_layers, stories ? 5 : 4);
    EXPECT_EQ(c.n_heads, stories ? 8 : 4);
    EXPECT_EQ(c.n_kv_heads, 4);
    EXPECT_EQ(c.max_positions, stories ? 512 : 128);
    EXPECT_EQ(m.bos_id, 1);
    EXPECT_EQ(m.eos_id, 2);
    EXPECT_EQ(std::filesystem::path(m.tokenizer_path).filename(), "tok512.bin");
    // Zero-copy: the weights live in the mapped file, not in memory of their own.
    Transformer& model = const_cast<Transformer&>(m.model);
    for (const auto& [name, p] : model.parameters())
        EXPECT_NE(p->storage()->owner, nullptr) << name << " was copied, not mapped";
}

TEST_P(Llama2c, LogitsMatchPyTorch) {
    const LoadedModel m = load_model(checkpoint());
    NoGradGuard no_grad;
    for (const char* which : {"text", "long"}) {
        const Tensor ids = ref(std::string(which) + "_ids");
        const Tensor expected = ref(std::string(which) + "_logits");
        ASSERT_TRUE(ids.defined() && expected.defined());
        for (AttentionPath path : {AttentionPath::fused, AttentionPath::reference}) {
            ForwardMode mode;
            mode.attention_path = path;
            const Tensor logits = m.model.forward(batch_of(ids), mode);
            const std::string what = model_name() + " " + which + " logits (T=" + std::to_string(ids.size(1)) +
                                     (path == AttentionPath::fused ? ", fused)" : ", reference)");
            EXPECT_TRUE(close_to(logits, expected, kTolerance, what));
            std::printf("%s: relative error %.3g\n", what.c_str(), relative_error(logits, expected));
        }
    }
}

TEST_P(Llama2c, GreedyDecodingMatchesPyTorch) {
    const LoadedModel m = load_model(checkpoint());
    const std::vector<int64_t> prompt = ids_of(ref("prompt_ids")), expected = ids_of(ref("greedy_ids"));
    ASSERT_FALSE(prompt.empty());
    ASSERT_EQ(expected.size(), 60u);
    // The reference's top-1 lead at every step: far above float32 noise, so ids must agree.
    const std::vector<float> margins = ref("greedy_margin").to_vector();
    EXPECT_GT(*std::min_element(margins.begin(), margins.end()), 1e-3f);

    // The prompt is "Once upon a time" through the model's own tokenizer, with BOS.
    const auto tokenizer = load_tokenizer(m.tokenizer_path);
    EXPECT_EQ(tokenizer->encode("Once upon a time", true), prompt) << "tokenizer disagrees with llama2c.py's run.c encoder";

    const std::vector<int64_t> ids = greedy(m.model, prompt, int64_t(expected.size()));
    EXPECT_EQ(ids, expected);
    std::vector<int64_t> all = prompt;
    all.insert(all.end(), ids.begin(), ids.end());
    const std::string text = tokenizer->decode(all, true);
    std::printf("%s greedy: %s\n", model_name().c_str(), text.c_str());
    if (model_name() == "stories260K") {  // llama2.c's own test_all.py expects this story
        EXPECT_NE(text.find("Once upon a time, there was a little girl named Lily. She loved to play outside"),
                  std::string::npos)
            << text;
    }
}

INSTANTIATE_TEST_SUITE_P(RealModel, Llama2c, ::testing::Values("stories260K", "aidreams260K"));

// ---- Hugging Face folders ----------------------------------------------------------------

TEST(RealModel, Gpt2FakeHfMatchesPyTorch) {
    const LoadedModel m = load_model(shared_data("gpt2_fake_hf"));
    EXPECT_EQ(m.format, ModelFormat::hf_folder);
    EXPECT_EQ(m.config.vocab_size, 50257);
    EXPECT_EQ(m.config.d_model, 2);
    EXPECT_EQ(m.config.d_ff, 8);
    EXPECT_EQ(m.config.activation, Activation::gelu_tanh);
    EXPECT_EQ(m.config.head, HeadType::lm);
    EXPECT_EQ(m.bos_id, 50256);
    EXPECT_EQ(m.eos_id, 50256);
    EXPECT_EQ(std::filesystem::path(m.tokenizer_path).filename(), "tokenizer.json");

    const Tensor ids = expect_tensor("hf_models", "gpt2.ids"), lengths = expect_tensor("hf_models", "gpt2.lengths");
    const Tensor expected = expect_tensor("hf_models", "gpt2.logits");
    ASSERT_TRUE(ids.defined() && lengths.defined() && expected.defined());
    NoGradGuard no_grad;
    const Tensor logits = m.model.forward(batch_of(ids, lengths));
    const Tensor a = real_rows(logits, ids_of(lengths)), e = real_rows(expected, ids_of(lengths));
    EXPECT_TRUE(close_to(a, e, kTolerance, "gpt2_fake_hf logits"));
    std::printf("gpt2_fake_hf logits: relative error %.3g\n", relative_error(a, e));
}

TEST(RealModel, BertTiniestHfMatchesPyTorch) {
    const LoadedModel m = load_model(shared_data("bert_tiniest_hf"));
    EXPECT_EQ(m.format, ModelFormat::hf_folder);
    EXPECT_EQ(m.config.shape, ModelShape::encoder);
    EXPECT_EQ(m.config.head, HeadType::mlm);
    EXPECT_EQ(m.config.d_model, 4);
    EXPECT_EQ(m.config.d_ff, 8);
    EXPECT_EQ(m.config.norm_placement, NormPlacement::post);
    EXPECT_FLOAT_EQ(m.config.norm_eps, 1e-12f);
    EXPECT_EQ(m.pad_id, 0);
    EXPECT_EQ(std::filesystem::path(m.tokenizer_path).filename(), "tokenizer.json");

    const Tensor ids = expect_tensor("hf_models", "bert.ids"), lengths = expect_tensor("hf_models", "bert.lengths");
    const Tensor types = expect_tensor("hf_models", "bert.token_types");
    const Tensor expected = expect_tensor("hf_models", "bert.logits");
    ASSERT_TRUE(ids.defined() && lengths.defined() && types.defined() && expected.defined());
    NoGradGuard no_grad;
    const Tensor logits = m.model.forward(batch_of(ids, lengths, types));
    const Tensor a = real_rows(logits, ids_of(lengths)), e = real_rows(expected, ids_of(lengths));
    EXPECT_TRUE(close_to(a, e, kTolerance, "bert_tiniest_hf logits"));
    std::printf("bert_tiniest_hf logits: relative error %.3g\n", relative_error(a, e));
}

}  // namespace
