// io/: safetensors (mmap, zero-copy F32, F16/BF16 widening, unaligned data), the config
// JSON, our checkpoints (save_model/load_model round-trip bit for bit), Hugging Face
// config.json reading, a Hugging Face Llama folder (single file and sharded) written from the
// models.py reference and held to its logits, finding the tokenizer beside a model, and
// loading without waste (mapped in place, no random init, re-layouts resident once).
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/io/tokenizer_files.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/ops.hpp"
#include "attend/train/checkpoint.hpp"
#include "attend/train/optimizer.hpp"
#include "io/mapped_file.hpp"
#include "support/files.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::ids_of;
using attend::testing::read_file;
using attend::testing::safetensors_bytes;
using attend::testing::write_file;
using attend::testing::close_to;
namespace fs = std::filesystem;

namespace {

// A fresh folder per test, removed afterwards.
class IoTest : public ::testing::Test {
protected:
    std::string path(const std::string& name) const { return dir_.path(name); }
    attend::testing::TempDir dir_;
};

template <class T>
std::string raw(const std::vector<T>& values) {
    return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

bool bit_equal(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return false;
    const std::vector<float> x = a.to_vector(), y = b.to_vector();
    return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * 4) == 0);
}

// ---- safetensors ----------------------------------------------------------------------------

TEST_F(IoTest, SafetensorsRoundTripsAndMapsF32InPlace) {
    Generator gen(3);
    std::map<std::string, Tensor> tensors = {{"a", Tensor::randn({3, 5}, gen)},
                                             {"b.c", Tensor::randn({7}, gen)},
                                             {"empty", Tensor::zeros({0, 4})},
                                             {"scalar", Tensor::full({}, 2.5f)},
                                             {"t", Tensor::randn({4, 3}, gen).transpose(0, 1)}};  // not contiguous
    save_safetensors(path("x.safetensors"), tensors, {{"k", "v"}});
    for (const auto& entry : fs::directory_iterator(dir_.dir()))  // the temporary was renamed, none left
        EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
    const SafetensorsContents back = read_safetensors(path("x.safetensors"));
    EXPECT_EQ(back.metadata, (std::map<std::string, std::string>{{"k", "v"}}));
    ASSERT_EQ(back.tensors.size(), tensors.size());
    for (const auto& [name, t] : tensors) {
        ASSERT_TRUE(back.tensors.count(name)) << name;
        EXPECT_TRUE(bit_equal(back.tensors.at(name), t)) << name;
    }
    // The data starts on a cache line (the kernels load 64-byte lines of a row).
    const std::string bytes = read_file(path("x.safetensors"));
    uint64_t header_length = 0;
    std::memcpy(&header_length, bytes.data(), 8);
    EXPECT_EQ((8 + header_length) % 64, 0u);
    // Our writer aligns the data to 8 bytes, so every non-empty F32 tensor is borrowed.
    EXPECT_NE(back.tensors.at("a").storage()->owner, nullptr);
    EXPECT_NE(back.tensors.at("b.c").storage()->owner, nullptr);
}

TEST_F(IoTest, MappedTensorsOutliveTheFileAndNeverWriteToIt) {
    Generator gen(4);
    const Tensor original = Tensor::randn({64}, gen);
    save_safetensors(path("w.safetensors"), {{"w", original}});
    const std::string bytes_before = read_file(path("w.safetensors"));
    Tensor w = load_safetensors(path("w.safetensors")).at("w");
    ASSERT_NE(w.storage()->owner, nullptr);
    w.data()[0] = 12345.f;  // copy-on-write: a private page
    EXPECT_EQ(read_file(path("w.safetensors")), bytes_before);
    fs::remove(path("w.safetensors"));  // the mapping keeps the data
    EXPECT_EQ(w.data()[0], 12345.f);
    EXPECT_EQ(w.data()[63], original.data()[63]);
}

TEST_F(IoTest, F16AndBf16AreWidened) {
    // F16: 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), -0, inf. BF16: 1, -3.5, 2^-130 (subnormal).
    const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000, 0x7c00};
    const std::vector<uint16_t> bf16 = {0x3f80, 0xc060, 0x0008};
    const std::string header = R"({"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},)"
                               R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[14,20]}})";
    const SafetensorsContents c = parse_safetensors(safetensors_bytes(header, raw(f16) + raw(bf16)).data(),
                                                    8 + header.size() + 20, "halves");
    const std::vector<float> h = c.tensors.at("h").to_vector(), b = c.tensors.at("b").to_vector();
    EXPECT_EQ(h[0], 1.f);
    EXPECT_EQ(h[1], -2.f);
    EXPECT_EQ(h[2], 0.5f);
    EXPECT_EQ(h[3], 65504.f);
    EXPECT_EQ(h[4], std::ldexp(1.f, -24));
    EXPECT_TRUE(h[5] == 0.f && std::signbit(h[5]));
    EXPECT_TRUE(std::isinf(h[6]));
    EXPECT_EQ(b[0], 1.f);
    EXPECT_EQ(b[1], -3.5f);
    EXPECT_EQ(b[2], std::ldexp(1.f, -130));
}

TEST_F(IoTest, UnalignedF32IsCopiedNotBorrowed) {
    // A hole of 1, 2 or 3 bytes before the data: the floats start off a 4-byte boundary in
    // the (page-aligned) mapping for at least two of them.
    const std::vector<float> values = {1.5f, -2.25f, 3.f};
    int unaligned = 0;
    for (int hole = 1; hole <= 3; ++hole) {
        const std::string header = R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[)" + std::to_string(hole) + "," +
                                   std::to_string(hole + 12) + "]}}";
        write_file(path("odd.safetensors"), safetensors_bytes(header, std::string(size_t(hole), '\0') + raw(values)));
        const Tensor x = load_safetensors(path("odd.safetensors")).at("x");
        EXPECT_EQ(x.to_vector(), values);
        if ((8 + header.size() + size_t(hole)) % 4 != 0) {
            ++unaligned;
            EXPECT_EQ(x.storage()->owner, nullptr) << "unaligned floats were borrowed, hole " << hole;
        } else {
            EXPECT_NE(x.storage()->owner, nullptr) << "aligned floats were copied, hole " << hole;
        }
    }
    EXPECT_GE(unaligned, 2);
}

TEST_F(IoTest, FilterSkipsTensorsOfDtypesWeCannotHold) {
    const std::string header = R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
                               R"("w":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}})";
    const std::string bytes = safetensors_bytes(header, raw(std::vector<int64_t>{7, 8}) + raw(std::vector<float>{4.f}));
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), "ids", [](const std::string& n) {
        return n != "ids";
    });
    EXPECT_EQ(c.tensors.size(), 1u);
    EXPECT_EQ(c.tensors.at("w").item(), 4.f);
    const SafetensorsHeader h = parse_safetensors_header(bytes.data(), bytes.size(), "ids");
    ASSERT_EQ(h.tensors.size(), 2u);
    EXPECT_EQ(h.tensors[0].name, "ids");
    EXPECT_EQ(h.tensors[0].dtype, "I64");
}

// ---- config JSON --------------------------------------------------------------------------

TEST(IoConfigJson, EveryPresetRoundTrips) {
    std::vector<TransformerConfig> configs;
    for (const auto& name : preset_names()) configs.push_back(preset(name));
    Llama2cHeader h{64, 172, 5, 8, 4, -512, 512};
    configs.push_back(llama2c_config(h));
    TransformerConfig odd = gpt2_small();
    odd.norm_eps = 1.2345678e-7f, odd.dropout = 0.1f, odd.rope_theta = 500000.f, odd.embedding_scale = std::sqrt(3.f);
    odd.name = "odd \"quoted\" name";
    configs.push_back(odd);
    for (const auto& c : configs) {
        const std::string text = config_to_json(c);
        const TransformerConfig back = config_from_json(text, c.name);
        EXPECT_EQ(config_to_json(back), text) << c.name;
        EXPECT_EQ(std::bit_cast<uint32_t>(back.norm_eps), std::bit_cast<uint32_t>(c.norm_eps)) << c.name;
        EXPECT_EQ(std::bit_cast<uint32_t>(back.embedding_scale), std::bit_cast<uint32_t>(c.embedding_scale));
        EXPECT_EQ(back.tie_embeddings, c.tie_embeddings);
        EXPECT_EQ(back.rope_layout, c.rope_layout);
        EXPECT_EQ(back.name, c.name);
    }
}

TEST(IoConfigJson, StrictAboutKeysAndValues) {
    auto message = [](const std::string& text) {
        try {
            config_from_json(text, "my.json");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    std::string base = config_to_json(gpt2_small(), -1);
    auto with = [&](const std::string& key, const std::string& value) {
        std::string t = base;
        const size_t at = t.find("\"" + key + "\":");
        const size_t end = t.find_first_of(",}", at);
        return t.substr(0, at) + "\"" + key + "\":" + value + t.substr(end);
    };
    EXPECT_NE(message(base.substr(0, base.size() - 1) + ",\"d_modle\":3}").find("my.json: field \"d_modle\": is not a field of attend's config"),
              std::string::npos);
    EXPECT_NE(message(with("norm", "\"batch_norm\"")).find("field \"norm\": expected one of layer_norm, rms_norm, got the string \"batch_norm\""),
              std::string::npos);
    EXPECT_NE(message(with("d_model", "\"768\"")).find("field \"d_model\": expected an integer, got the string \"768\""), std::string::npos);
    EXPECT_NE(message(with("n_heads", "7")).find("not divisible by n_heads=7"), std::string::npos);
    EXPECT_NE(message("{\"model_type\":\"gpt2\"}").find("expected attend's own \"attend\", got the string \"gpt2\""), std::string::npos);
    EXPECT_NE(message("[1, 2").find("my.json: config is not valid JSON"), std::string::npos);
}

// ---- our checkpoints -----------------------------------------------------------------------

TransformerConfig small_llama() {
    TransformerConfig c = llama2_7b();
    c.name = "small-llama";
    c.vocab_size = 50, c.d_model = 32, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.d_ff = 48;
    c.max_positions = 32, c.rope_layout = RopeLayout::interleaved;
    return c;
}

TransformerConfig small_gpt2() {
    TransformerConfig c = gpt2_small();
    c.name = "small-gpt2";
    c.vocab_size = 40, c.d_model = 16, c.n_layers = 2, c.n_heads = 2, c.d_ff = 32, c.max_positions = 16;
    return c;
}

TransformerConfig small_bert_classifier() {
    TransformerConfig c = bert_base();
    c.name = "small-bert";
    c.head = HeadType::classifier, c.n_classes = 3;
    c.vocab_size = 30, c.d_model = 16, c.n_layers = 1, c.n_heads = 2, c.d_ff = 24, c.max_positions = 16;
    return c;
}

void expect_same_model(Transformer& a, Transformer& b) {
    const NamedParameters pa = a.parameters(), pb = b.parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
        EXPECT_EQ(pa[i].first, pb[i].first);
        EXPECT_TRUE(bit_equal(*pa[i].second, *pb[i].second)) << pa[i].first;
        EXPECT_TRUE(pb[i].second->requires_grad()) << pb[i].first;
    }
    EXPECT_EQ(config_to_json(a.config()), config_to_json(b.config()));
}

TEST_F(IoTest, OurCheckpointRoundTripsBitForBit) {
    for (const TransformerConfig& c : {small_llama(), small_gpt2(), small_bert_classifier()}) {
        Transformer model(c, 11);
        for (const std::string& target : {path(c.name + ".safetensors"), path(c.name + "_folder")}) {
            save_model(target, model, {{"bos_id", "1"}, {"note", "hello"}});
            EXPECT_EQ(detect_model_format(target), ModelFormat::attend_checkpoint);
            LoadedModel back = load_model(target);
            EXPECT_EQ(back.format, ModelFormat::attend_checkpoint);
            EXPECT_EQ(back.bos_id, 1);
            EXPECT_EQ(back.eos_id, -1);
            expect_same_model(model, back.model);
            TokenBatch tokens;
            tokens.ids = {1, 5, 7, 2, 9, 3};
            tokens.shape = {1, 6};
            NoGradGuard no_grad;
            EXPECT_TRUE(bit_equal(model.forward(tokens), back.model.forward(tokens))) << target;
        }
        EXPECT_TRUE(fs::exists(path(c.name + "_folder/config.json")));
        // The config.json of the folder is ours and readable on its own.
        EXPECT_EQ(config_to_json(read_hf_config(path(c.name + "_folder/config.json"))), config_to_json(c));
    }
}

TEST_F(IoTest, SavingOverALoadedCheckpointIsSafe) {
    // The loaded model's weights are mapped from the file being replaced: rename keeps the old
    // inode alive, so the mapping stays valid.
    Transformer model(small_gpt2(), 5);
    save_model(path("m.safetensors"), model);
    LoadedModel loaded = load_model(path("m.safetensors"));
    save_model(path("m.safetensors"), loaded.model);
    LoadedModel again = load_model(path("m.safetensors"));
    expect_same_model(model, again.model);
    expect_same_model(model, loaded.model);
}

// ---- Hugging Face config.json ---------------------------------------------------------------

TEST(IoHfConfig, LlamaFieldsAndDefaults) {
    const TransformerConfig c = hf_config_from_json(R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
        "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 3,
        "num_attention_heads": 8, "num_key_value_heads": 2, "max_position_embeddings": 256,
        "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "hidden_act": "silu", "rope_scaling": null})",
                                                    "llama.json");
    EXPECT_EQ(c.vocab_size, 1000);
    EXPECT_EQ(c.n_kv_heads, 2);
    EXPECT_EQ(c.d_ff, 172);
    EXPECT_EQ(c.norm, NormType::rms_norm);
    EXPECT_EQ(c.rope_layout, RopeLayout::rotate_half);
    EXPECT_EQ(c.rope_theta, 500000.f);
    EXPECT_FALSE(c.tie_embeddings);
    EXPECT_FALSE(c.bias);
    EXPECT_EQ(c.head, HeadType::lm);
    // LlamaConfig's defaults where a key is absent: n_kv_heads = n_heads, eps 1e-6.
    const TransformerConfig d = hf_config_from_json(R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
        "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2})", "d.json");
    EXPECT_EQ(d.kv_heads(), 2);
    EXPECT_EQ(d.norm_eps, 1e-6f);
}

// The two dropouts of each family: on sub-layer outputs and on the attention weights.
TEST(IoHfConfig, DropoutsComeFromEachFamilysKeys) {
    const TransformerConfig gpt2 = hf_config_from_json(R"({"model_type": "gpt2", "vocab_size": 10, "n_embd": 8,
        "n_layer": 1, "n_head": 2, "resid_pdrop": 0.2, "attn_pdrop": 0.05})", "gpt2.json");
    EXPECT_EQ(gpt2.dropout, 0.2f);
    EXPECT_EQ(gpt2.attention_dropout, 0.05f);
    const TransformerConfig bert = hf_config_from_json(R"({"model_type": "bert", "vocab_size": 10, "hidden_size": 8,
        "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
        "hidden_dropout_prob": 0.3, "attention_probs_dropout_prob": 0.15})", "bert.json");
    EXPECT_EQ(bert.dropout, 0.3f);
    EXPECT_EQ(bert.attention_dropout, 0.15f);
    const TransformerConfig llama = hf_config_from_json(R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
        "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "attention_dropout": 0.1})", "l.json");
    EXPECT_EQ(llama.dropout, 0.f);  // Llama drops nothing else
    EXPECT_EQ(llama.attention_dropout, 0.1f);
    // attend's own config.json keeps the field through a round trip.
    EXPECT_EQ(config_from_json(config_to_json(bert), "c.json").attention_dropout, 0.15f);
}

TEST(IoHfConfig, BertHeadsFollowTheArchitecture) {
    const std::string body = R"("model_type": "bert", "vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32)";
    EXPECT_EQ(hf_config_from_json("{" + body + R"(, "architectures": ["BertForMaskedLM"]})", "x").head, HeadType::mlm);
    EXPECT_EQ(hf_config_from_json("{" + body + R"(, "architectures": ["BertModel"]})", "x").head, HeadType::none);
    const TransformerConfig cls = hf_config_from_json(
        "{" + body + R"(, "architectures": ["BertForSequenceClassification"], "id2label": {"0": "a", "1": "b", "2": "c"}})", "x");
    EXPECT_EQ(cls.head, HeadType::classifier);
    EXPECT_EQ(cls.n_classes, 3);
    try {
        hf_config_from_json("{" + body + R"(, "is_decoder": true})", "bert.json");
        ADD_FAILURE() << "is_decoder accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("bert.json: config 'is_decoder' true"), std::string::npos) << e.what();
    }
}

// ---- a Hugging Face Llama folder, written from models.py's reference weights ------------------

std::map<std::string, Tensor> with_prefix_removed(const std::map<std::string, Tensor>& all, const std::string& prefix) {
    std::map<std::string, Tensor> out;
    for (const auto& [name, t] : all)
        if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
    return out;
}

constexpr const char* kLlamaConfig = R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
    "vocab_size": 89, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 16,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": false,
    "bos_token_id": 1, "eos_token_id": [2, 3]})";

void expect_llama_logits(const LoadedModel& m, const std::map<std::string, Tensor>& ref) {
    TokenBatch tokens;
    const Tensor ids = ref.at("llama.ids");
    tokens.ids = ids_of(ids);
    tokens.shape = ids.shape();
    tokens.lengths = ids_of(ref.at("llama.lengths"));
    NoGradGuard no_grad;
    EXPECT_TRUE(close_to(m.model.forward(tokens), ref.at("llama.logits"), 1e-4, "HF llama folder logits"));
}

TEST_F(IoTest, HuggingFaceLlamaFolderMatchesTheReference) {
    const auto ref = attend::testing::load_reference("models");
    ASSERT_TRUE(ref.count("llama.logits"));
    const auto weights = with_prefix_removed(ref, "llama.param.");
    ASSERT_TRUE(weights.count("model.embed_tokens.weight"));
    fs::create_directories(path("llama"));
    write_file(path("llama/config.json"), kLlamaConfig);
    std::map<std::string, Tensor> with_buffer = weights;  // HF files of old carried rotary inv_freq
    with_buffer["model.layers.0.self_attn.rotary_emb.inv_freq"] = Tensor::ones({8});
    save_safetensors(path("llama/model.safetensors"), with_buffer, {{"format", "pt"}});
    write_file(path("llama/tokenizer.json"), "{}");
    const LoadedModel m = load_model(path("llama"));
    EXPECT_EQ(m.format, ModelFormat::hf_folder);
    EXPECT_EQ(m.bos_id, 1);
    EXPECT_EQ(m.eos_id, 2);  // the first of a list
    EXPECT_EQ(m.tokenizer_path, path("llama/tokenizer.json"));
    expect_llama_logits(m, ref);

    // The same as a .safetensors file with config.json beside it.
    const LoadedModel f = load_model(path("llama/model.safetensors"));
    EXPECT_EQ(f.format, ModelFormat::hf_safetensors);
    expect_llama_logits(f, ref);
}

TEST_F(IoTest, HuggingFaceShardedFolderLoads) {
    const auto ref = attend::testing::load_reference("models");
    const auto weights = with_prefix_removed(ref, "llama.param.");
    ASSERT_FALSE(weights.empty());
    fs::create_directories(path("sharded"));
    write_file(path("sharded/config.json"), kLlamaConfig);
    std::map<std::string, Tensor> shard[2];
    std::string index = R"({"metadata": {}, "weight_map": {)";
    int i = 0;
    for (const auto& [name, t] : weights) {
        const int s = i++ % 2;
        shard[s][name] = t;
        index += (i > 1 ? ", \"" : "\"") + name + "\": \"model-0000" + std::to_string(s + 1) + "-of-00002.safetensors\"";
    }
    index += "}}";
    save_safetensors(path("sharded/model-00001-of-00002.safetensors"), shard[0]);
    save_safetensors(path("sharded/model-00002-of-00002.safetensors"), shard[1]);
    write_file(path("sharded/model.safetensors.index.json"), index);
    expect_llama_logits(load_model(path("sharded")), ref);
}

// ---- the tokenizer beside a model ------------------------------------------------------------

TEST_F(IoTest, TokenizerIsFoundBesideTheModel) {
    // One order for a model file, its folder and load_tokenizer (io/tokenizer_files.hpp).
    const auto beside = [](const std::string& p, int64_t vocab = 0) { return find_tokenizer(p, vocab).value_or(""); };
    write_file(path("model.bin"), "x");
    EXPECT_EQ(beside(path("model.bin")), "");
    write_file(path("tok999.bin"), "x");
    EXPECT_EQ(beside(path("model.bin")), path("tok999.bin"));
    write_file(path("tok512.bin"), "x");
    EXPECT_EQ(beside(path("model.bin")), path("tok512.bin"));       // the first tok<N>.bin by name
    EXPECT_EQ(beside(path("model.bin"), 999), path("tok999.bin"));  // the model's own size first
    write_file(path("vocab.txt"), "x");
    EXPECT_EQ(beside(path("model.bin"), 512), path("tok512.bin"));  // tok<vocab_size>.bin before anything
    EXPECT_EQ(beside(path("model.bin")), path("vocab.txt"));        // then Hugging Face's before llama2.c's
    EXPECT_EQ(beside(dir_.dir().string()), path("vocab.txt"));      // a folder searches the same way
    write_file(path("tokenizer.bin"), "x");
    EXPECT_EQ(beside(dir_.dir().string()), path("vocab.txt"));
    write_file(path("vocab.json"), "x");  // a GPT-2 vocabulary counts only with its merges
    EXPECT_EQ(beside(dir_.dir().string()), path("vocab.txt"));
    write_file(path("merges.txt"), "x");
    EXPECT_EQ(beside(dir_.dir().string()), path("vocab.json"));
    write_file(path("tokenizer.json"), "x");
    EXPECT_EQ(beside(dir_.dir().string()), path("tokenizer.json"));
    EXPECT_EQ(beside(path("model.bin"), 4096), path("tokenizer.json"));  // no tok4096.bin here
}

TEST_F(IoTest, TrainingCheckpointIsAModel) {
    // The layout the trainer writes, from its own writer (train/checkpoint.hpp, through
    // model_record): "model." parameters, "optim." state, attend_config and the step.
    Transformer model(small_gpt2(), 8);
    NamedParameters params = model.parameters();
    AdamW optimizer(params);
    TrainingState state;
    state.step = 10;
    state.generators["data"] = Generator(1);
    state.metadata["arch"] = "gpt";
    save_training_checkpoint(path("checkpoint.safetensors"), model, optimizer, state);
    const SafetensorsContents raw = read_safetensors(path("checkpoint.safetensors"));
    EXPECT_EQ(raw.metadata.at("format"), "attend-checkpoint-1");
    EXPECT_EQ(raw.metadata.at("step"), "10");
    EXPECT_EQ(config_from_json(raw.metadata.at("attend_config")).d_model, model.config().d_model);
    EXPECT_TRUE(std::any_of(raw.tensors.begin(), raw.tensors.end(), [](const auto& t) { return t.first.rfind("model.", 0) == 0; }));
    EXPECT_TRUE(std::any_of(raw.tensors.begin(), raw.tensors.end(), [](const auto& t) { return t.first.rfind("optim.", 0) == 0; }));

    LoadedModel back = load_model(path("checkpoint.safetensors"));
    EXPECT_EQ(back.format, ModelFormat::attend_checkpoint);
    expect_same_model(model, back.model);
    // A run's folder before the run has finished (no model.safetensors yet): its checkpoint.
    LoadedModel folder = load_model(dir_.dir().string());
    EXPECT_EQ(folder.format, ModelFormat::attend_checkpoint);
    expect_same_model(model, folder.model);
    // Once model.safetensors is there (save_model: the same writer), the folder is that model.
    Transformer other(small_gpt2(), 9);
    save_model(dir_.dir().string(), other);
    LoadedModel finished = load_model(dir_.dir().string());
    expect_same_model(other, finished.model);
}

// ---- loading without waste ---------------------------------------------------------------

// This process's resident memory now and at its peak since reset_peak_rss(), in bytes
// (/proc/self/status VmRSS and VmHWM; writing 5 to clear_refs resets VmHWM to VmRSS).
int64_t status_bytes(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
    ADD_FAILURE() << "no " << key << " in /proc/self/status";
    return 0;
}
// The resident pages of mapped files (RssShmem too, should the temporary folder be a tmpfs).
int64_t mapped_file_bytes() { return status_bytes("RssFile") + status_bytes("RssShmem"); }
// What loading may add to the peak RSS beyond the weights it holds: 4 MB of the loader's own
// bookkeeping (8 MB under AddressSanitizer, whose shadow memory and allocator grow RSS too:
// measured 5.0 MB there, against 21 MB of weights).
#ifdef __SANITIZE_ADDRESS__
constexpr int64_t kBookkeeping = 8 << 20;
#else
constexpr int64_t kBookkeeping = 4 << 20;
#endif
void reset_peak_rss() {
    ::malloc_trim(0);  // free heap pages go back, so reusing them shows as growth too
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.close();
    ASSERT_TRUE(out) << "cannot reset the peak RSS through /proc/self/clear_refs";
}

// A GPT-2 of 21 MB of f32 weights: large enough that a copy of them, or a file read whole,
// stands out of the peak RSS against the loader's bookkeeping (kBookkeeping).
TransformerConfig gpt2_of_21_mb() {
    TransformerConfig c = small_gpt2();
    c.vocab_size = 2000, c.d_model = 256, c.n_heads = 4, c.n_layers = 6, c.d_ff = 1024, c.max_positions = 64;
    return c;
}

// GPT-2's Hugging Face layout of our parameters: Conv1D weights (in, out), q|k|v packed by
// columns into c_attn, "transformer." names (the inverse of io/hf_names.cpp).
std::map<std::string, Tensor> as_hf_gpt2(Transformer& model) {
    NoGradGuard no_grad;
    const TransformerConfig& c = model.config();
    const int64_t E = c.d_model;
    std::map<std::string, Tensor> ours, hf;
    for (const auto& [name, p] : model.parameters()) ours[name] = p->detach();
    auto conv1d = [](const Tensor& w) { return w.transpose(0, 1).contiguous(); };
    hf["transformer.wte.weight"] = ours.at("embeddings.token.weight");
    hf["transformer.wpe.weight"] = ours.at("embeddings.position.weight");
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string h = "transformer.h." + std::to_string(l) + ".", o = "layers." + std::to_string(l) + ".";
        Tensor w = Tensor::empty({E, 3 * E}), b = Tensor::empty({3 * E});
        const char* qkv[] = {"q_proj", "k_proj", "v_proj"};
        for (int64_t i = 0; i < 3; ++i) {
            const Tensor wi = ours.at(o + "self_attn." + qkv[i] + ".weight"), bi = ours.at(o + "self_attn." + qkv[i] + ".bias");
            for (int64_t r = 0; r < E; ++r) {
                b.data()[i * E + r] = bi.data()[r];
                for (int64_t col = 0; col < E; ++col) w.data()[r * 3 * E + i * E + col] = wi.data()[col * E + r];
            }
        }
        hf[h + "attn.c_attn.weight"] = w;
        hf[h + "attn.c_attn.bias"] = b;
        hf[h + "attn.c_proj.weight"] = conv1d(ours.at(o + "self_attn.out_proj.weight"));
        hf[h + "attn.c_proj.bias"] = ours.at(o + "self_attn.out_proj.bias");
        hf[h + "mlp.c_fc.weight"] = conv1d(ours.at(o + "ff.linear1.weight"));
        hf[h + "mlp.c_fc.bias"] = ours.at(o + "ff.linear1.bias");
        hf[h + "mlp.c_proj.weight"] = conv1d(ours.at(o + "ff.linear2.weight"));
        hf[h + "mlp.c_proj.bias"] = ours.at(o + "ff.linear2.bias");
        for (const auto& [theirs, mine] : {std::pair{"ln_1", "self_attn_norm"}, std::pair{"ln_2", "ff_norm"}}) {
            hf[h + theirs + ".weight"] = ours.at(o + mine + ".weight");
            hf[h + theirs + ".bias"] = ours.at(o + mine + ".bias");
        }
    }
    hf["transformer.ln_f.weight"] = ours.at("norm.weight");
    hf["transformer.ln_f.bias"] = ours.at("norm.bias");
    return hf;
}

std::string hf_gpt2_config(const TransformerConfig& c) {
    return R"({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new",
               "layer_norm_epsilon": 1e-05, "n_embd": )" + std::to_string(c.d_model) +
           ", \"n_head\": " + std::to_string(c.n_heads) + ", \"n_layer\": " + std::to_string(c.n_layers) +
           ", \"n_inner\": " + std::to_string(c.d_ff) + ", \"n_positions\": " + std::to_string(c.max_positions) +
           ", \"vocab_size\": " + std::to_string(c.vocab_size) + "}";
}

// GPT-2's matrices that a Hugging Face folder stores in another layout (Conv1D, packed c_attn).
bool transposed_in_hf(const std::string& name) {
    for (const char* m : {"q_proj.weight", "k_proj.weight", "v_proj.weight", "out_proj.weight", "linear1.weight",
                          "linear2.weight"})
        if (name.size() > std::strlen(m) && name.compare(name.size() - std::strlen(m), std::string::npos, m) == 0)
            return true;
    return false;
}

// The floats a 2-D view spans in its storage, from its first element to its last.
int64_t span_of(const Tensor& t) { return 1 + (t.size(0) - 1) * t.strides()[0] + (t.size(1) - 1) * t.strides()[1]; }

// Loading builds the model without drawing or writing its parameters and adopts the file's
// tensors: every parameter is the mapped file's own memory (its Storage has an owner) —
// GPT-2's Conv1D weights too, as transposed views that linear() reads in place — and no page
// of the weights is read while loading. So peak memory grows by the loader's bookkeeping only,
// not by a randomly initialised model nor by a second layout. And the mapping is
// copy-on-write: writing every parameter (as a training step does) leaves the files as they were.
// Both ways of holding the file (LoadOptions::mmap): mapped, only the header is read and the
// weights are the file's pages; read (the default), the file is held once in memory of the
// process's own and the weights are borrowed from it just the same — never a second copy.
TEST_F(IoTest, LoadingAdoptsTheFileWithoutCopyingEvenConv1DWeights) {
    const TransformerConfig c = gpt2_of_21_mb();
    Transformer model(c, 21);
    int64_t weight_bytes = 0;
    for (const auto& [name, p] : model.parameters()) weight_bytes += p->numel() * 4;
    fs::create_directories(path("hf"));
    write_file(path("hf/config.json"), hf_gpt2_config(c));
    save_safetensors(path("hf/model.safetensors"), as_hf_gpt2(model), {{"format", "pt"}});
    save_model(path("ours"), model);

    for (const bool mmap : {true, false})
    for (const std::string& dir : {path("ours"), path("hf")}) {
        SCOPED_TRACE(mmap ? "mapped" : "read");
        const bool hf = dir == path("hf");
        const std::string file = dir + "/model.safetensors", bytes_before = read_file(file);
        reset_peak_rss();
        const int64_t rss_before = status_bytes("VmRSS"), file_before = mapped_file_bytes();
        LoadedModel loaded = load_model(dir, LoadOptions{.mmap = mmap});
        const int64_t growth = status_bytes("VmHWM") - rss_before - (mmap ? 0 : int64_t(fs::file_size(file)));
        // Mapped: of the file, only the header was read. Each touch maps the kernel's
        // fault-around window (64 KiB) with it, so "a few pages" is counted in those: 2 MB, a
        // tenth of the 21 MB of weights (measured 1.06 MB under ASan). Read: no page of it.
        EXPECT_LE(mapped_file_bytes() - file_before, 2 << 20) << dir << ": mapped pages stayed resident";
        EXPECT_LE(growth, kBookkeeping) << dir << ": peak RSS grew by " << growth << " bytes (beyond a read file) loading "
                                        << weight_bytes << " bytes of weights";
        std::printf("%s: peak RSS grew by %.1f MB for %.1f MB of weights\n", dir.c_str(), double(growth) / 1e6,
                    double(weight_bytes) / 1e6);

        const MappedFile* mapping = nullptr;
        for (const auto& [name, p] : loaded.model.parameters()) {
            const std::shared_ptr<void>& owner = p->storage()->owner;
            ASSERT_NE(owner, nullptr) << dir << ": " << name << " was copied, not borrowed";
            // Every borrowed tensor lies in the one mapping (or reading) of the file.
            const MappedFile* file_of = static_cast<const MappedSpan*>(owner.get())->file().get();
            if (!mapping) mapping = file_of;
            EXPECT_EQ(file_of, mapping) << name;
            const auto* at = reinterpret_cast<const unsigned char*>(p->data());
            const int64_t span = p->dim() == 2 ? span_of(*p) : p->numel();
            EXPECT_TRUE(at >= mapping->bytes() && at + span * 4 <= mapping->bytes() + mapping->size()) << name;
            // GPT-2's Conv1D weights are their file's (in, out) matrix, seen transposed.
            EXPECT_EQ(hf && transposed_in_hf(name), is_input_major(*p)) << dir << ": " << name;
        }
        const NamedParameters original = model.parameters(), back = loaded.model.parameters();
        ASSERT_EQ(original.size(), back.size());
        for (size_t i = 0; i < back.size(); ++i) {
            EXPECT_EQ(original[i].first, back[i].first);
            EXPECT_TRUE(bit_equal(*original[i].second, *back[i].second)) << dir << ": " << back[i].first;
            EXPECT_TRUE(back[i].second->requires_grad()) << back[i].first;
        }
        // Every weight was just read: a read model took none of them from the file's pages.
        if (!mmap) {
            EXPECT_LE(mapped_file_bytes() - file_before, 2 << 20) << dir << ": the weights were read from the mapping";
        }

        // Copy-on-write: the file never changes, whatever is written to the parameters.
        {
            NoGradGuard no_grad;
            for (const auto& [name, p] : loaded.model.parameters()) {
                if (p->is_contiguous()) {
                    std::fill_n(p->data(), p->numel(), 7.f);
                } else {
                    for (int64_t r = 0; r < p->size(0); ++r)
                        for (int64_t k = 0; k < p->size(1); ++k)
                            p->data()[r * p->strides()[0] + k * p->strides()[1]] = 7.f;
                }
            }
        }
        EXPECT_EQ(read_file(file), bytes_before) << dir;
        for (const auto& [name, p] : loaded.model.parameters())
            EXPECT_EQ(p->to_vector(), std::vector<float>(size_t(p->numel()), 7.f)) << dir << ": " << name;
    }
}

// Read into memory (the default), a file is still only read once its header has vouched for
// it: a header that lies about the file costs its own bytes, not the file's. Each of these is
// 64 MiB behind a header that cannot be true of it; loading it fails naming the file, and the
// peak RSS does not grow by the file (it did when the file was read before being checked).
TEST_F(IoTest, AFileIsReadOnlyAfterItsHeaderIsChecked) {
    const std::string tail(size_t(64) << 20, '\1');
    auto with_le = [](std::string bytes, auto value) {
        bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
        return bytes;
    };
    const std::string json = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,1099511627776]}})";
    const std::vector<std::pair<std::string, std::string>> lies = {
        // safetensors: a tensor 1 TiB long
        {"lie.safetensors", safetensors_bytes(json, tail)},
        // llama2.c: 1000 layers of 64 wide, 164 MB of floats, in 64 MiB
        {"lie.bin", [&] {
             std::string b;
             for (int32_t v : {64, 128, 1000, 4, 4, 512, 64}) b = with_le(b, v);
             return b + tail;
         }()},
        // GGUF: 2^40 tensors
        {"lie.gguf", with_le(with_le(with_le(std::string("GGUF"), uint32_t(3)), uint64_t(1) << 40), uint64_t(0)) + tail},
    };
    for (const auto& [name, bytes] : lies) {
        write_file(path(name), bytes);
        reset_peak_rss();
        const int64_t rss_before = status_bytes("VmRSS");
        try {
            load_model(path(name));
            ADD_FAILURE() << name << " loaded";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(path(name) + ": "), std::string::npos) << e.what();
        }
        const int64_t growth = status_bytes("VmHWM") - rss_before;
        EXPECT_LE(growth, kBookkeeping) << name << ": peak RSS grew by " << growth << " bytes refusing a "
                                        << bytes.size() << "-byte file";
    }
}

// A training checkpoint holds the optimizer's state beside the model (AdamW: two more copies
// of the weights). Loaded as a model, read into memory, only the model's bytes are read.
TEST_F(IoTest, ATrainingCheckpointLoadsWithoutReadingItsOptimizerState) {
    Transformer model(gpt2_of_21_mb(), 22);
    NamedParameters params = model.parameters();
    int64_t weight_bytes = 0;
    for (const auto& [name, p] : params) weight_bytes += p->numel() * 4;
    for (auto& [name, p] : params) p->requires_grad_(true), p->set_grad(Tensor::ones(p->shape()));
    AdamW optimizer(params);
    optimizer.step(0.1f);  // so the state is not zeros
    save_training_checkpoint(path("checkpoint.safetensors"), model, optimizer, TrainingState{});
    ASSERT_GT(int64_t(fs::file_size(path("checkpoint.safetensors"))), 5 * weight_bytes / 2);  // the state is there

    reset_peak_rss();
    const int64_t rss_before = status_bytes("VmRSS");
    LoadedModel loaded = load_model(path("checkpoint.safetensors"));
    const int64_t growth = status_bytes("VmHWM") - rss_before;
    // The weights once, with room for AddressSanitizer's shadow of them (an eighth) and more:
    // reading the state too would be three times the weights (measured 63.5 MB, against 21.1
    // MB of weights; 23.5 MB without it, 29.6 MB under AddressSanitizer).
    EXPECT_LE(growth, weight_bytes * 3 / 2 + kBookkeeping) << "peak RSS grew by " << growth << " bytes loading "
                                                           << weight_bytes << " bytes of weights";
    std::printf("peak RSS grew by %.1f MB for %.1f MB of weights\n", double(growth) / 1e6, double(weight_bytes) / 1e6);
    expect_same_model(model, loaded.model);
}

}  // namespace
