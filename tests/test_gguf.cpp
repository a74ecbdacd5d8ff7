// test_gguf.cpp — GGUF (llama.cpp's format): the reader on llama.cpp's own vocabulary files and
// on files made by an independent Python writer (tests/reference/gguf_files.py), models read
// from them against that script's numpy forward pass, write → read round trips (f32 and
// quantised), `attend convert --to gguf`, and the reader refusing broken files in one line.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/low_precision.hpp"
#include "attend/random.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "io/ggml_types.hpp"
#include "io/half_float.hpp"
#include "io/gguf.hpp"
#include "support/cli.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::close_to;
using attend::testing::error_of;
using attend::testing::shared_data;
using attend::testing::TempDir;

namespace {

std::string vocab_file(const std::string& name) { return shared_data("llamacpp_vocab_tests/ggml-vocab-" + name + ".gguf"); }

std::string reference_file(const std::string& name) { return std::string(ATTEND_REFERENCE_DIR) + "/" + name; }

float max_abs_diff(const Tensor& a, const Tensor& b) {
    const std::vector<float> x = a.contiguous().to_vector(), y = b.contiguous().to_vector();
    EXPECT_EQ(x.size(), y.size());
    float d = 0;
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) d = std::max(d, std::fabs(x[i] - y[i]));
    return d;
}

TokenBatch batch(const std::vector<int64_t>& ids) {
    TokenBatch t;
    t.ids = ids;
    t.shape = {1, int64_t(ids.size())};
    return t;
}

// Every low-precision parameter widened to f32: the model then computes in f32 throughout.
void widen(Transformer& m) {
    for (auto& [name, p] : m.parameters())
        if (p->low_precision()) *p = p->low_precision()->dequantize();
}

}  // namespace

// ---- the reader ------------------------------------------------------------------------

TEST(GgufReader, ReadsLlamaCppVocabularyFiles) {
    for (const std::string name : {"gpt-2", "bert-bge", "llama-spm", "phi-3", "deepseek-llm", "falcon", "starcoder"}) {
        SCOPED_TRACE(name);
        const GgufFile f = GgufFile::open(vocab_file(name));
        EXPECT_EQ(f.version(), 3u);
        EXPECT_TRUE(f.tensors().empty());
        const size_t n = f.get_string_array("tokenizer.ggml.tokens").size();
        EXPECT_GT(n, 30000u);
        EXPECT_EQ(f.get_int_array("tokenizer.ggml.token_type").size(), n);
        const std::string model = f.get_string("tokenizer.ggml.model");
        if (model == "gpt2") {
            EXPECT_GT(f.get_string_array("tokenizer.ggml.merges").size(), 40000u);
        } else if (model == "llama") {
            EXPECT_EQ(f.get_float_array("tokenizer.ggml.scores").size(), n);
        }
    }
    // Values PROVENANCE.md lists.
    const GgufFile gpt2 = GgufFile::open(vocab_file("gpt-2"));
    EXPECT_EQ(gpt2.get_string("general.architecture"), "gpt2");
    EXPECT_EQ(gpt2.get_string_array("tokenizer.ggml.tokens").size(), 50257u);
    EXPECT_EQ(gpt2.get_string_array("tokenizer.ggml.merges").size(), 50000u);
    EXPECT_EQ(gpt2.get_u32("tokenizer.ggml.bos_token_id"), 50256u);
    EXPECT_EQ(gpt2.get_u32("gpt2.block_count"), 12u);
    EXPECT_FLOAT_EQ(gpt2.get_f32("gpt2.attention.layer_norm_epsilon"), 1e-5f);
    const GgufFile bert = GgufFile::open(vocab_file("bert-bge"));
    EXPECT_EQ(bert.get_u32("tokenizer.ggml.cls_token_id"), 101u);
    EXPECT_FALSE(bert.get_bool("bert.attention.causal"));
    const GgufFile spm = GgufFile::open(vocab_file("llama-spm"));
    EXPECT_TRUE(spm.get_bool("tokenizer.ggml.add_bos_token"));
    EXPECT_EQ(spm.get_string_array("tokenizer.ggml.tokens")[1], "<s>");
    EXPECT_EQ(spm.get_i32("llama.vocab_size"), 32000);

    // Typed getters: the wrong type or a missing key is one line naming the file and the key.
    const std::string wrong = error_of([&] { spm.get_u32("tokenizer.ggml.model"); });
    EXPECT_MENTIONS(wrong, vocab_file("llama-spm") + ": metadata key \"tokenizer.ggml.model\": expected u32, got string");
    const std::string missing = error_of([&] { spm.get_string("no.such.key"); });
    EXPECT_MENTIONS(missing, "metadata key \"no.such.key\": missing");
    EXPECT_MENTIONS(error_of([&] { spm.get_string_array("tokenizer.ggml.scores"); }), "expected array of string, got array of f32");
    EXPECT_EQ(spm.get_u32("no.such.key", 7u), 7u);
    EXPECT_EQ(spm.get_string("tokenizer.ggml.model", "x"), "llama");
    EXPECT_MENTIONS(error_of([&] { spm.get_bool("tokenizer.ggml.model", true); }), "expected bool, got string");
}

TEST(GgufReader, PythonWrittenFilesReadBackToTheirValues) {
    const auto ref = attend::testing::load_reference("gguf_files");
    for (const std::string file : {"gguf_llama", "gguf_gpt2"}) {
        SCOPED_TRACE(file);
        const GgufFile f = GgufFile::open(reference_file(file + ".gguf"));
        EXPECT_EQ(f.version(), file == "gguf_llama" ? 3u : 2u);
        EXPECT_EQ(f.alignment(), file == "gguf_llama" ? 64u : 32u);
        size_t checked = 0;
        for (const auto& t : f.tensors()) {
            const auto it = ref.find(file + "/" + t.name);
            ASSERT_NE(it, ref.end()) << t.name;
            // Every type decodes to exactly the values the Python decoder gives the same bytes.
            EXPECT_EQ(max_abs_diff(f.tensor_f32(t), it->second), 0.f) << t.name << " (" << name_of(t.type) << ")";
            EXPECT_EQ(t.shape(), it->second.shape()) << t.name;
            ++checked;
        }
        EXPECT_GE(checked, 20u);
    }
    const GgufFile f = GgufFile::open(reference_file("gguf_llama.gguf"));
    EXPECT_EQ(f.get_string("general.name"), "tiny-llama-ref");
    EXPECT_EQ(f.get_int_array("test.i8s"), (std::vector<int64_t>{-3, 7}));
    EXPECT_EQ(f.get_u64("test.u64"), uint64_t(1) << 40);
    EXPECT_MENTIONS(error_of([&] { f.get_u32("test.u64"); }), "value 1099511627776 does not fit in u32");
    EXPECT_FLOAT_EQ(f.get_f32("test.f64"), 0.25f);
    EXPECT_EQ(f.get_string_array("test.strings"), (std::vector<std::string>{"a", "", "ünï"}));
    std::set<GgmlType> types;
    for (const auto& t : f.tensors()) types.insert(t.type);
    EXPECT_EQ(types, (std::set<GgmlType>{GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0}));
}

// ---- models ----------------------------------------------------------------------------

TEST(GgufModels, PythonWrittenModelsGiveTheReferenceLogits) {
    const auto ref = attend::testing::load_reference("gguf_files");
    const std::vector<int64_t> tokens = {1, 5, 9, 2, 17, 33, 4, 60};  // gguf_files.py's TOKENS
    NoGradGuard no_grad;
    {
        LoadedModel m = load_model(reference_file("gguf_llama.gguf"));
        EXPECT_EQ(m.format, ModelFormat::gguf);
        EXPECT_EQ(m.config.rope_layout, RopeLayout::interleaved);
        EXPECT_EQ(m.config.kv_heads(), 2);
        EXPECT_FALSE(m.config.tie_embeddings);
        EXPECT_EQ(m.bos_id, 1);
        // Kept in low precision where the kernels read it: Q8_0 and Q4_0 as int8, BF16 as bf16,
        // each holding exactly the file's values.
        auto params = m.model.parameters();
        std::map<std::string, Tensor*> p(params.begin(), params.end());
        const auto lp = [&](const std::string& name) { return p.at(name)->low_precision(); };
        ASSERT_TRUE(lp("layers.0.ff.gate_proj.weight") && lp("layers.0.ff.up_proj.weight") && lp("layers.1.self_attn.k_proj.weight"));
        EXPECT_EQ(lp("layers.0.ff.gate_proj.weight")->type(), WeightType::int8);   // Q8_0
        EXPECT_EQ(lp("layers.0.ff.up_proj.weight")->type(), WeightType::int8);     // Q4_0
        EXPECT_EQ(lp("layers.1.self_attn.k_proj.weight")->type(), WeightType::bf16);
        EXPECT_EQ(max_abs_diff(lp("layers.0.ff.up_proj.weight")->dequantize(), ref.at("gguf_llama/blk.0.ffn_up.weight")), 0.f);
        EXPECT_EQ(max_abs_diff(lp("layers.0.ff.gate_proj.weight")->dequantize(), ref.at("gguf_llama/blk.0.ffn_gate.weight")), 0.f);
        EXPECT_EQ(max_abs_diff(lp("embeddings.token.weight")->dequantize(), ref.at("gguf_llama/token_embd.weight")), 0.f);
        // int8 kernels round the activations too: close. Widened to f32: the reference's logits.
        const Tensor expected = ref.at("gguf_llama/logits").reshape({1, 8, 64});
        EXPECT_TRUE(close_to(m.model.forward(batch(tokens)), expected, 5e-2, "gguf llama logits, low precision"));
        widen(m.model);
        EXPECT_TRUE(close_to(m.model.forward(batch(tokens)), expected, 1e-4, "gguf llama logits, f32"));
    }
    {
        const LoadedModel m = load_model(reference_file("gguf_gpt2.gguf"));
        EXPECT_TRUE(m.config.tie_embeddings);
        EXPECT_EQ(m.config.activation, Activation::gelu_tanh);
        EXPECT_TRUE(close_to(m.model.forward(batch(tokens)), ref.at("gguf_gpt2/logits").reshape({1, 8, 64}), 1e-4,
                             "gguf gpt2 logits"));
    }
}

namespace {

TransformerConfig tiny(const std::string& family) {
    TransformerConfig c = family == "llama" ? llama2_7b() : family == "gpt2" ? gpt2_small() : bert_base();
    c.vocab_size = 96, c.d_model = 64, c.n_layers = 2, c.n_heads = 4, c.d_ff = 128, c.max_positions = 32;
    c.dropout = c.attention_dropout = 0.f;
    if (family == "llama") c.n_kv_heads = 2, c.tie_embeddings = false;  // HF's rotate_half layout, GQA
    if (family == "bert") c.head = HeadType::none;
    c.name = "tiny " + family;
    return c;
}

Tensor output(const Transformer& m, const std::vector<int64_t>& ids) {
    NoGradGuard no_grad;
    return m.config().head == HeadType::none ? m.hidden_states(batch(ids)) : m.forward(batch(ids));
}

}  // namespace

TEST(GgufModels, WriteThenReadGivesTheSameModel) {
    TempDir dir;
    const std::vector<int64_t> ids = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
    for (const std::string family : {"llama", "gpt2", "bert"}) {
        SCOPED_TRACE(family);
        Generator gen(7);
        const Transformer model(tiny(family), gen);
        const Tensor want = output(model, ids);
        const std::string path = dir.path(family + ".gguf");
        save_gguf(path, model);
        const LoadedModel back = load_model(path);
        EXPECT_EQ(back.format, ModelFormat::gguf);
        // f32 throughout: the same numbers (llama's q/k rows were re-ordered for interleaved
        // RoPE on the way out, and the model read back rotates those pairs).
        EXPECT_TRUE(close_to(output(back.model, ids), want, 1e-5, family + " f32 round trip"));
        const GgufFile f = GgufFile::open(path);
        EXPECT_EQ(f.get_string("general.architecture"), family);
        EXPECT_EQ(f.get_u32(family + ".block_count"), 2u);
        EXPECT_EQ(f.get_u32("general.file_type"), 0u);

        // Quantised: the file holds Q8_0 / Q4_0 blocks of the matrices; read back, they are int8
        // holding exactly those blocks' values, and the model stays close to the f32 one.
        for (const std::string type : {"q8_0", "q4_0", "f16", "bf16"}) {
            SCOPED_TRACE(type);
            const std::string qpath = dir.path(family + "_" + type + ".gguf");
            GgufWriteOptions options;
            options.type = type;
            save_gguf(qpath, model, options);
            const GgufFile q = GgufFile::open(qpath);
            const GgufTensorInfo* up = q.find_tensor("blk.0.ffn_up.weight");
            ASSERT_TRUE(up);
            const GgmlType expected_type = type == "q8_0" ? GgmlType::Q8_0 : type == "q4_0" ? GgmlType::Q4_0
                                           : type == "f16" ? GgmlType::F16 : GgmlType::BF16;
            EXPECT_EQ(up->type, expected_type);
            const GgufTensorInfo* norm = q.find_tensor(family == "bert" ? "blk.0.layer_output_norm.weight" : "blk.0.ffn_norm.weight");
            ASSERT_TRUE(norm);
            EXPECT_EQ(norm->type, GgmlType::F32);  // norms stay F32
            const LoadedModel qm = load_model(qpath);
            auto params = const_cast<Transformer&>(qm.model).parameters();
            std::map<std::string, Tensor*> p(params.begin(), params.end());
            const Tensor& linear1 = *p.at(family == "llama" ? "layers.0.ff.up_proj.weight" : "layers.0.ff.linear1.weight");
            const Tensor widened = linear1.low_precision() ? linear1.low_precision()->dequantize() : linear1;
            EXPECT_EQ(max_abs_diff(widened, q.tensor_f32(*up)), 0.f);
            const double tolerance = type == "q4_0" ? 0.35 : type == "q8_0" ? 5e-2 : type == "bf16" ? 2e-2 : 2e-3;
            EXPECT_TRUE(close_to(output(qm.model, ids), want, tolerance, family + " " + type + " round trip"));
        }
    }
}

TEST(GgufModels, RefusesWhatItCannotBuild) {
    TempDir dir;
    Generator gen(1);
    TransformerConfig c = tiny("llama");
    c.embedding_scale = 2.f;
    EXPECT_MENTIONS(error_of([&] { save_gguf(dir.path("x.gguf"), Transformer(c, gen)); }), "embeddings are scaled");
    TransformerConfig bert = tiny("bert");
    bert.head = HeadType::mlm;
    const Transformer mlm(bert, gen);
    EXPECT_MENTIONS(error_of([&] { save_gguf(dir.path("x.gguf"), mlm); }), "holds the encoder alone");
    GgufWriteOptions encoder_only;
    encoder_only.encoder_only = true;
    save_gguf(dir.path("encoder.gguf"), mlm, encoder_only);
    EXPECT_EQ(load_model(dir.path("encoder.gguf")).config.head, HeadType::none);
    GgufWriteOptions q5;
    q5.type = "q5_k", q5.encoder_only = true;
    EXPECT_MENTIONS(error_of([&] { save_gguf(dir.path("x.gguf"), mlm, q5); }), "not one attend writes");
    // Architectures attend does not build: refused by name.
    EXPECT_MENTIONS(error_of([&] { load_model(vocab_file("falcon")); }), "\"falcon\" is not an architecture attend builds");
    // Vocabulary-only files have no weights (phi3 is read: tests/test_gguf_families.cpp).
    EXPECT_MENTIONS(error_of([&] { load_model(vocab_file("llama-spm")); }), "has no tensor token_embd.weight");
    EXPECT_MENTIONS(error_of([&] { load_model(vocab_file("phi-3")); }), "has no tensor token_embd.weight");
}

// ---- the CLI ---------------------------------------------------------------------------

TEST(GgufCli, ConvertedStoriesGenerateTheSameStory) {
    TempDir dir;
    const std::string bin = shared_data("stories260K/stories260K.bin");
    const std::string gguf = dir.path("stories.gguf"), q8 = dir.path("stories-q8.gguf");
    using attend::testing::run_cli;
    using attend::testing::shell_quote;
    ASSERT_EQ(run_cli("convert --to gguf " + shell_quote(bin) + " " + shell_quote(gguf)).status, 0);
    ASSERT_EQ(run_cli("convert --to gguf --type q8_0 " + shell_quote(bin) + " " + shell_quote(q8)).status, 0);
    const std::string args = " --prompt 'Once upon a time' -n 40 --temperature 0";
    const auto original = run_cli("generate --model " + shell_quote(bin) + args);
    const auto converted = run_cli("generate --model " + shell_quote(gguf) + args);
    ASSERT_EQ(original.status, 0) << original.output;
    ASSERT_EQ(converted.status, 0) << converted.output;
    EXPECT_EQ(converted.output, original.output);  // the tokenizer travelled in the metadata
    EXPECT_EQ(run_cli("generate --model " + shell_quote(q8) + args).status, 0);
    EXPECT_LT(std::filesystem::file_size(q8), std::filesystem::file_size(gguf) / 2);

    const GgufFile f = GgufFile::open(gguf);
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
    EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 512u);
    EXPECT_EQ(f.get_u32("tokenizer.ggml.bos_token_id"), 1u);

    // Back to an attend checkpoint: the tokenizer stays in the GGUF file, named with --tokenizer.
    const std::string folder = dir.path("from-gguf");
    const auto back = run_cli("convert --dtype f32 " + shell_quote(gguf) + " " + shell_quote(folder));
    ASSERT_EQ(back.status, 0) << back.output;
    EXPECT_MENTIONS(back.output, "the tokenizer is in the GGUF file's metadata");
    const auto again = run_cli("generate --model " + shell_quote(folder) + " --tokenizer " + shell_quote(gguf) + args);
    EXPECT_EQ(again.output, original.output);

    const auto bad = run_cli("convert --to gguf --dtype int8 " + shell_quote(bin) + " " + shell_quote(gguf));
    EXPECT_NE(bad.status, 0);
    EXPECT_MENTIONS(bad.output, "with --to gguf use --type");
}

TEST(GgufCli, TokenizesWithAVocabularyFile) {
    using attend::testing::run_cli;
    using attend::testing::shell_quote;
    const auto r = run_cli("tokenize --tokenizer " + shell_quote(vocab_file("gpt-2")) + " --text ' Hello World'");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "18435 2159\n");  // PROVENANCE.md's example
}

// ---- broken files ----------------------------------------------------------------------

namespace {

// GGUF bytes assembled by hand, so each field can lie.
struct Bytes {
    std::string s;
    template <class T>
    Bytes& put(T v) {
        s.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    Bytes& str(const std::string& text) {
        put<uint64_t>(text.size());
        s += text;
        return *this;
    }
};

// A valid file: two metadata keys and one F32 (2, 32) tensor at offset 0.
struct Parts {
    uint32_t version = 3;
    uint64_t n_tensors = 1, n_kv = 2;
    uint32_t value_type = 8;  // the second key's type (string)
    uint64_t string_length = 5;
    uint32_t n_dims = 2;
    uint64_t inner = 32;
    uint32_t ggml_type = 0;
    uint64_t offset = 0;
    uint64_t data_bytes = 2 * 32 * 4;
};

std::string file(const Parts& p) {
    Bytes b;
    b.s = "GGUF";
    b.put(p.version).put(p.n_tensors).put(p.n_kv);
    b.str("general.alignment").put<uint32_t>(4).put<uint32_t>(32);
    b.str("general.name").put(p.value_type).put(p.string_length);
    b.s += "tiny!";
    b.str("w").put(p.n_dims).put(p.inner);
    if (p.n_dims > 1) b.put<uint64_t>(2);
    b.put(p.ggml_type).put(p.offset);
    b.s.resize((b.s.size() + 31) / 32 * 32, '\0');
    b.s += std::string(p.data_bytes, '\x01');
    return b.s;
}

std::string refusal(const std::string& bytes) {
    const std::string m = error_of([&] { GgufFile::parse(bytes.data(), bytes.size(), "bad.gguf"); });
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.rfind("bad.gguf: ", 0), 0u) << m;
    return m;
}

}  // namespace

TEST(GgufBadFiles, EachIsRefusedInOneLine) {
    const std::string good = file({});
    const GgufFile ok = GgufFile::parse(good.data(), good.size(), "good.gguf");
    ASSERT_EQ(ok.tensors().size(), 1u);
    EXPECT_EQ(ok.tensors()[0].shape(), (Shape{2, 32}));
    EXPECT_EQ(ok.get_string("general.name"), "tiny!");

    // Cut anywhere: refused, never read past the end.
    for (size_t n = 0; n < good.size(); ++n) {
        const std::string cut = good.substr(0, n);
        refusal(cut);
    }
    EXPECT_MENTIONS(refusal(good.substr(0, 100)), "truncated: tensor #0's name's length needs 8 bytes at offset 94");
    EXPECT_MENTIONS(refusal("GGML" + good.substr(4)), "not a GGUF file");
    Parts p;
    p.version = 1;
    EXPECT_MENTIONS(refusal(file(p)), "version 1");
    p = {}, p.version = 0x03000000;
    EXPECT_MENTIONS(refusal(file(p)), "big-endian");
    p = {}, p.n_kv = uint64_t(1) << 60;
    EXPECT_MENTIONS(refusal(file(p)), "metadata count 1152921504606846976");
    p = {}, p.n_tensors = uint64_t(1) << 40;
    EXPECT_MENTIONS(refusal(file(p)), "tensor count");
    p = {}, p.string_length = uint64_t(1) << 62;
    EXPECT_MENTIONS(refusal(file(p)), "metadata key \"general.name\" has length 4611686018427387904");
    p = {}, p.value_type = 13;
    EXPECT_MENTIONS(refusal(file(p)), "unknown value type 13");
    p = {}, p.ggml_type = 99;
    EXPECT_MENTIONS(refusal(file(p)), "tensor 'w' has unknown ggml type 99");
    p = {}, p.offset = 16;
    EXPECT_MENTIONS(refusal(file(p)), "not a multiple of the alignment 32");
    p = {}, p.offset = 4096;
    EXPECT_MENTIONS(refusal(file(p)), "data section (file truncated?)");
    p = {}, p.data_bytes = 100;
    EXPECT_MENTIONS(refusal(file(p)), "data section");
    p = {}, p.n_dims = 5;
    EXPECT_MENTIONS(refusal(file(p)), "has 5 dimensions");
    p = {}, p.inner = 0;
    EXPECT_MENTIONS(refusal(file(p)), "dimension of 0");
    p = {}, p.ggml_type = 8, p.inner = 33;  // Q8_0 rows must be whole blocks of 32
    EXPECT_MENTIONS(refusal(file(p)), "do not divide its innermost dimension 33");

    // Keys: duplicated, a bool that is not 0/1, an alignment that is no power of two, an
    // array of arrays, an array longer than the file.
    const auto with_kv = [](const std::function<void(Bytes&)>& kv) {
        Bytes b;
        b.s = "GGUF";
        b.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
        kv(b);
        return b.s;
    };
    EXPECT_MENTIONS(refusal(with_kv([](Bytes& b) { b.str("flag").put<uint32_t>(7).put<uint8_t>(2); })), "bool holding 2");
    EXPECT_MENTIONS(refusal(with_kv([](Bytes& b) { b.str("general.alignment").put<uint32_t>(4).put<uint32_t>(48); })),
                    "48 is not a power of two");
    EXPECT_MENTIONS(refusal(with_kv([](Bytes& b) { b.str("general.alignment").put<uint32_t>(10).put<uint64_t>(32); })),
                    "general.alignment\": expected u32, got u64");
    EXPECT_MENTIONS(refusal(with_kv([](Bytes& b) { b.str("a").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1); })),
                    "array of arrays");
    EXPECT_MENTIONS(refusal(with_kv([](Bytes& b) { b.str("a").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1u << 30); })),
                    "claims 1073741824 u32 elements");
    {
        Bytes b;
        b.s = "GGUF";
        b.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(2);
        b.str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2);
        EXPECT_MENTIONS(refusal(b.s), "metadata key \"k\" appears twice");
    }
    // Two tensors sharing bytes.
    {
        Bytes b;
        b.s = "GGUF";
        b.put<uint32_t>(3).put<uint64_t>(2).put<uint64_t>(0);
        b.str("a").put<uint32_t>(1).put<uint64_t>(16).put<uint32_t>(0).put<uint64_t>(0);
        b.str("b").put<uint32_t>(1).put<uint64_t>(16).put<uint32_t>(0).put<uint64_t>(32);
        b.s.resize((b.s.size() + 31) / 32 * 32, '\0');
        b.s += std::string(128, '\0');
        EXPECT_MENTIONS(refusal(b.s), "tensor 'b' at offset 32 overlaps tensor 'a'");
    }
    // A type the reader knows but does not decode: refused when the tensor is read, by name.
    p = {}, p.ggml_type = 12, p.inner = 256, p.data_bytes = 2 * 144;  // Q4_K
    const std::string k = file(p);
    const GgufFile f = GgufFile::parse(k.data(), k.size(), "k.gguf");
    EXPECT_MENTIONS(error_of([&] { f.tensor_f32("w"); }), "tensor 'w' is Q4_K, which attend does not read");
}

TEST(GgufCodecs, HalfAndBlockRoundTrips) {
    // f16: every finite half survives half → float → half.
    for (uint32_t h = 0; h < 0x10000; ++h)
        if (((h >> 10) & 0x1f) != 0x1f) {
            ASSERT_EQ(float_to_half(half_to_float(uint16_t(h))), h) << h;
        }
    EXPECT_EQ(float_to_half(1e6f), 0x7c00);  // past 65504: infinity
    EXPECT_EQ(half_to_float(float_to_half(1.f + 1.f / 2048)), 1.f);  // a tie: to even
    // Q8_0 / Q4_0: encode then decode errs by at most half a step of each block's scale.
    std::vector<float> x(64);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i)) * (i < 32 ? 1.f : 100.f);
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0}) {
        std::vector<unsigned char> raw(2 * ggml_type_info(t).block_bytes);
        std::vector<float> back(64);
        quantize_ggml(t, x.data(), raw.data(), 64);
        dequantize_ggml(t, raw.data(), back.data(), 64);
        for (size_t i = 0; i < 64; ++i) {
            // Q4_0 maps the largest magnitude to -8, so its opposite clamps at 7: a whole step.
            const float amax = i < 32 ? 1.f : 100.f, step = amax / (t == GgmlType::Q8_0 ? 127.f : 8.f);
            EXPECT_LE(std::fabs(back[i] - x[i]), (t == GgmlType::Q8_0 ? 0.5f : 1.f) * step + 1e-3f * amax) << i;
        }
    }
}
