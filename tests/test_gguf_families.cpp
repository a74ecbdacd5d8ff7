// test_gguf_families.cpp — Qwen2, Phi-3 and Gemma as GGUF files, in llama.cpp's layout.
//
// tests/reference/hf_families.py writes each tiny random model twice: as a Hugging Face folder
// and (independently, struct + numpy) as the GGUF file llama.cpp's convert_hf_to_gguf would make
// of it (fused phi3 attn_qkv / ffn_up, longrope factor tensors, gemma norms stored as 1 + w, no
// gemma output tensor). Here:
//   - the Python-written GGUF loads to the PyTorch reference's logits and greedy ids;
//   - `attend convert --to gguf` of the HF folder writes the same tensors, bit for bit, and the
//     same family keys as that file, and loads back to the HF folder's logits;
//   - models attend builds in another layout (interleaved RoPE with q/k biases, a head size that
//     is not E / heads, a sliding window) survive write → read;
//   - broken files (a fused tensor with the wrong row count, missing keys...) are refused in
//     one line naming the tensor or key.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "attend/autograd.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/random.hpp"
#include "io/gguf.hpp"
#include "support/cli.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::close_to;
using attend::testing::error_of;
using attend::testing::ids_of;
using attend::testing::TempDir;

namespace {

std::string families(const std::string& name) { return std::string(ATTEND_REFERENCE_DIR) + "/hf_families/" + name; }

Tensor fam_ref(const std::string& key) {  // not ref(): std::ref would be found too
    static const std::map<std::string, Tensor> r = attend::testing::load_reference("hf_families");
    auto it = r.find(key);
    if (it == r.end()) {
        ADD_FAILURE() << "hf_families.safetensors has no tensor " << key;
        return Tensor();
    }
    return it->second;
}

TokenBatch one_sequence(const std::vector<int64_t>& ids) {
    TokenBatch b;
    b.ids = ids;
    b.shape = {1, int64_t(ids.size())};
    return b;
}

Tensor logits(const Transformer& m, const Tensor& ids) {
    NoGradGuard no_grad;
    const Tensor out = m.forward(one_sequence(ids_of(ids)));  // (1, T, V)
    return out.reshape({out.size(1), out.size(2)});
}

std::vector<int64_t> greedy(const Transformer& model, const std::vector<int64_t>& prompt, size_t steps) {
    NoGradGuard no_grad;
    KVCache cache = model.make_cache(1);
    TokenBatch step = one_sequence(prompt);
    std::vector<int64_t> out;
    while (out.size() < steps) {
        const Tensor l = model.forward_step(step, cache);  // (1, Tq, V)
        const std::vector<float> last = l.slice(1, l.size(1) - 1, l.size(1)).contiguous().to_vector();
        out.push_back(int64_t(std::max_element(last.begin(), last.end()) - last.begin()));
        step = one_sequence({out.back()});
    }
    return out;
}

class GgufFamily : public ::testing::TestWithParam<const char*> {
protected:
    std::string family() const { return GetParam(); }
};

}  // namespace

TEST_P(GgufFamily, LlamaCppLayoutGivesTheReference) {
    const std::string f = family();
    const LoadedModel m = load_model(families(f + ".gguf"));
    const TransformerConfig& c = m.config;
    EXPECT_EQ(m.format, ModelFormat::gguf);
    EXPECT_EQ(c.rope_layout, RopeLayout::rotate_half);  // llama.cpp's NEOX rope for all three
    EXPECT_EQ(c.activation, f == "gemma" ? Activation::geglu : Activation::swiglu);
    EXPECT_EQ(c.qkv_bias, f == "qwen2");
    EXPECT_FALSE(c.bias);
    EXPECT_EQ(c.head_dim(), f == "gemma" ? 24 : 8);
    EXPECT_EQ(c.kv_heads(), f == "gemma" ? 1 : f == "phi3" ? 4 : 2);
    EXPECT_EQ(c.tie_embeddings, f != "phi3");
    EXPECT_EQ(c.sliding_window, 0);
    EXPECT_FLOAT_EQ(c.embedding_scale, f == "gemma" ? std::sqrt(32.f) : 1.f);
    EXPECT_EQ(m.bos_id, 1);
    EXPECT_EQ(c.rope_scaling.rope_type, f == "phi3" ? RopeScalingType::longrope : RopeScalingType::none);
    if (f == "phi3") {
        EXPECT_EQ(c.rope_scaling.short_factor, (std::vector<float>{1.f, 1.25f, 2.f, 3.5f}));
        EXPECT_EQ(c.rope_scaling.long_factor, (std::vector<float>{1.5f, 4.f, 9.f, 21.f}));
        EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 16);
        EXPECT_FLOAT_EQ(c.rope_scaling.attention_factor, float(std::sqrt(1.0 + std::log(4.0) / std::log(16.0))));
    }
    EXPECT_TRUE(close_to(logits(m.model, fam_ref(f + ".ids")), fam_ref(f + ".logits"), 1e-4, f + ".gguf logits"));
    if (f == "phi3") {  // within the original context: the short factors
        EXPECT_TRUE(close_to(logits(m.model, fam_ref("phi3.short_ids")), fam_ref("phi3.short_logits"), 1e-4, "phi3.gguf short"));
    }
    const std::vector<int64_t> expected = ids_of(fam_ref(f + ".greedy"));
    EXPECT_EQ(greedy(m.model, ids_of(fam_ref(f + ".prompt")), expected.size()), expected);
}

TEST_P(GgufFamily, ConvertWritesLlamaCppsLayout) {
    const std::string f = family();
    TempDir dir;
    const std::string out = dir.path(f + ".gguf");
    using attend::testing::run_cli;
    using attend::testing::shell_quote;
    const auto run = run_cli("convert --to gguf " + shell_quote(families(f)) + " " + shell_quote(out));
    ASSERT_EQ(run.status, 0) << run.output;

    // The same tensors as the independent writer's llama.cpp layout, value for value (gemma's
    // norms as 1 + w both ways, phi3's fused rows in the same order, its factor tensors).
    const GgufFile ours = GgufFile::open(out), theirs = GgufFile::open(families(f + ".gguf"));
    EXPECT_EQ(ours.get_string("general.architecture"), f);
    EXPECT_EQ(ours.tensors().size(), theirs.tensors().size());
    for (const GgufTensorInfo& t : theirs.tensors()) {
        const GgufTensorInfo* mine = ours.find_tensor(t.name);
        ASSERT_TRUE(mine) << t.name;
        EXPECT_EQ(mine->shape(), t.shape()) << t.name;
        EXPECT_EQ(ours.tensor_f32(*mine).to_vector(), theirs.tensor_f32(t).to_vector()) << t.name;
    }
    // And every family key the Python file has, with its value.
    for (const std::string& key : theirs.keys()) {
        if (key.rfind(f + ".", 0) != 0) continue;
        ASSERT_TRUE(ours.has(key)) << key;
        if (key.find("epsilon") != std::string::npos || key.find("freq_base") != std::string::npos ||
            key.find("attn_factor") != std::string::npos)
            EXPECT_FLOAT_EQ(ours.get_f32(key), theirs.get_f32(key)) << key;
        else
            EXPECT_EQ(ours.get_u64(key), theirs.get_u64(key)) << key;
    }

    // Read back: the HF folder's model, to the last bit, and the reference.
    const LoadedModel back = load_model(out), folder = load_model(families(f));
    EXPECT_EQ(back.config.rope_scaling, folder.config.rope_scaling);
    EXPECT_EQ(back.config.head_dim(), folder.config.head_dim());
    EXPECT_EQ(logits(back.model, fam_ref(f + ".ids")).to_vector(), logits(folder.model, fam_ref(f + ".ids")).to_vector());
    EXPECT_TRUE(close_to(logits(back.model, fam_ref(f + ".ids")), fam_ref(f + ".logits"), 1e-4, f + " converted"));
}

INSTANTIATE_TEST_SUITE_P(Gguf, GgufFamily, ::testing::Values("qwen2", "phi3", "gemma"));

// Layouts the HF families do not have, written and read back: a Mistral (llama in GGUF) whose
// head size is not E / heads and which has a sliding window; a model with interleaved RoPE and
// q/k/v biases (written as qwen2: its q/k rows and biases go back to HF's halves); a quantised
// phi3 (the fused rows sliced out of Q8_0 blocks).
TEST(GgufFamilies, OtherLayoutsSurviveTheRoundTrip) {
    TempDir dir;
    NoGradGuard no_grad;
    const Tensor ids = fam_ref("mistral.ids");
    {
        const LoadedModel mistral = load_model(families("mistral"));
        save_gguf(dir.path("mistral.gguf"), mistral.model);
        const GgufFile f = GgufFile::open(dir.path("mistral.gguf"));
        EXPECT_EQ(f.get_string("general.architecture"), "llama");
        EXPECT_EQ(f.get_u32("llama.attention.key_length"), 12u);
        EXPECT_EQ(f.get_u32("llama.attention.sliding_window"), 5u);
        const LoadedModel back = load_model(dir.path("mistral.gguf"));
        EXPECT_EQ(back.config.sliding_window, 5);
        EXPECT_EQ(back.config.head_dim(), 12);
        EXPECT_TRUE(close_to(logits(back.model, ids), fam_ref("mistral.logits"), 1e-4, "mistral as llama"));
    }
    {
        TransformerConfig c = llama2_7b();
        c.name = "interleaved, q/k/v biases";
        c.vocab_size = 50, c.d_model = 32, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.d_ff = 48;
        c.max_positions = 64, c.rope_layout = RopeLayout::interleaved, c.qkv_bias = true, c.tie_embeddings = false;
        Generator gen(3);
        Transformer model(c, gen);
        for (auto& [name, p] : model.parameters())  // biases are zero at init: make them count
            if (name.find("_proj.bias") != std::string::npos) *p = Tensor::randn(p->shape(), gen);
        save_gguf(dir.path("qwen.gguf"), model);
        const LoadedModel back = load_model(dir.path("qwen.gguf"));
        EXPECT_EQ(back.config.rope_layout, RopeLayout::rotate_half);
        const Tensor small_ids = Tensor::from_vector({1, 6}, {3, 1, 4, 1, 5, 9});
        EXPECT_TRUE(close_to(logits(back.model, small_ids), logits(model, small_ids), 1e-5, "interleaved as qwen2"));
    }
    {
        const LoadedModel phi3 = load_model(families("phi3"));
        GgufWriteOptions q8;
        q8.type = "q8_0";
        save_gguf(dir.path("phi3-q8.gguf"), phi3.model, q8);
        EXPECT_EQ(GgufFile::open(dir.path("phi3-q8.gguf")).find_tensor("blk.0.attn_qkv.weight")->type, GgmlType::Q8_0);
        const LoadedModel back = load_model(dir.path("phi3-q8.gguf"));
        EXPECT_TRUE(close_to(logits(back.model, fam_ref("phi3.ids")), fam_ref("phi3.logits"), 5e-2, "phi3 q8_0"));
    }
    // Llama 3's rope scaling has no GGUF form attend writes yet: refused, not dropped.
    const LoadedModel llama3 = load_model(families("llama3"));
    EXPECT_MENTIONS(error_of([&] { save_gguf(dir.path("l3.gguf"), llama3.model); }), "rope_scaling llama3 is not written");
}

TEST(GgufFamilies, BrokenFilesAreRefusedInOneLine) {
    const std::pair<std::string, std::vector<std::string>> cases[] = {
        {"bad_phi3_qkv_rows", {"tensor 'blk.1.attn_qkv.weight' (88, 32) has 88 rows",
                               "needs 96 (q_proj 32 | k_proj 32 | v_proj 32)"}},
        {"bad_phi3_ffn_up_rows", {"tensor 'blk.0.ffn_up.weight'", "needs 96 (gate_proj 48 | up_proj 48)"}},
        {"bad_phi3_factors", {"tensor 'rope_factors_long.weight' (3,) must hold 4 factors"}},
        {"bad_phi3_no_original", {"\"phi3.rope.scaling.original_context_length\": missing"}},
        {"bad_gemma_output", {"tensor 'output.weight'", "matches no parameter of the gemma model"}},
        {"bad_gemma_value_length", {"\"gemma.attention.value_length\": 16 differs from the head size 24"}},
        {"bad_qwen2_no_bias", {"has no tensor blk.1.attn_k.bias"}},
    };
    for (const auto& [name, mentions] : cases) {
        SCOPED_TRACE(name);
        const std::string path = families(name + ".gguf");
        const std::string message = error_of([&] { load_model(path); });
        EXPECT_EQ(message.rfind(path, 0), 0u) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
        for (const std::string& m : mentions) EXPECT_MENTIONS(message, m);
    }
}
