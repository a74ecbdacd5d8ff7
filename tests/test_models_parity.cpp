// Whole models held to PyTorch (tests/reference/models.py): GPT-2, BERT (MLM and sequence
// classification) and Llama written in torch with Hugging Face's module structure and
// names, and an encoder–decoder on torch.nn.Transformer (post-norm and pre-norm).
//
// Each case loads the torch state_dict through convert_checkpoint (the same mapping a real
// HF checkpoint goes through: GPT-2's Conv1D transposed and c_attn split, torch's
// in_proj_weight split, ...), runs the forward and the loss on both attention paths, and
// compares the logits, the loss and every parameter's gradient (the gradients are mapped to
// our names by the same function) — all ≤ 1e-4 relative to the reference's scale.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "attend/error.hpp"
#include "attend/io/hf_names.hpp"
#include "attend/models/transformer.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::ids_of;
using attend::testing::close_to;
using attend::testing::relative_error;

namespace {

constexpr double kTolerance = 1e-4;

// The configs models.py builds; the file holds the weights, not these numbers, so each must
// agree with the script (a disagreement shows up as a shape error when loading).
TransformerConfig gpt2_config() {
    TransformerConfig c;
    c.name = "gpt2-tiny";
    c.shape = ModelShape::decoder;
    c.head = HeadType::lm;
    c.vocab_size = 97, c.max_positions = 24, c.d_model = 48, c.n_layers = 2, c.n_heads = 4, c.d_ff = 192;
    c.norm = NormType::layer_norm, c.norm_placement = NormPlacement::pre, c.final_norm = true, c.norm_eps = 1e-5f;
    c.activation = Activation::gelu_tanh, c.positions = PositionType::learned;
    c.bias = true, c.tie_embeddings = true;
    return c;
}

TransformerConfig bert_config(HeadType head) {
    TransformerConfig c;
    c.name = head == HeadType::mlm ? "bert-tiny-mlm" : "bert-tiny-cls";
    c.shape = ModelShape::encoder;
    c.head = head;
    c.n_classes = head == HeadType::classifier ? 3 : 0;
    c.vocab_size = 101, c.max_positions = 32, c.type_vocab_size = 2;
    c.d_model = 64, c.n_layers = 2, c.n_heads = 4, c.d_ff = 128;
    c.norm = NormType::layer_norm, c.norm_placement = NormPlacement::post, c.final_norm = false;
    c.embedding_norm = true, c.norm_eps = 1e-12f;
    c.activation = Activation::gelu, c.positions = PositionType::learned;
    c.bias = true, c.tie_embeddings = true;
    return c;
}

TransformerConfig llama_config() {
    TransformerConfig c;
    c.name = "llama-tiny";
    c.shape = ModelShape::decoder;
    c.head = HeadType::lm;
    c.vocab_size = 89, c.d_model = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.d_ff = 96;
    c.max_positions = 16;
    c.norm = NormType::rms_norm, c.norm_placement = NormPlacement::pre, c.final_norm = true, c.norm_eps = 1e-5f;
    c.activation = Activation::swiglu, c.positions = PositionType::rope;
    c.rope_layout = RopeLayout::rotate_half, c.rope_theta = 10000.f;
    c.bias = false, c.tie_embeddings = false;
    return c;
}

TransformerConfig seq2seq_config(NormPlacement placement) {
    TransformerConfig c;
    c.name = placement == NormPlacement::post ? "seq2seq-tiny-post" : "seq2seq-tiny-pre";
    c.shape = ModelShape::encoder_decoder;
    c.head = HeadType::seq2seq;
    c.vocab_size = 53, c.d_model = 32, c.n_heads = 4, c.d_ff = 64;
    c.n_encoder_layers = 2, c.n_layers = 3, c.max_positions = 64;
    // nn.Transformer puts a LayerNorm after each stack in both orders.
    c.norm = NormType::layer_norm, c.norm_placement = placement, c.final_norm = true, c.norm_eps = 1e-5f;
    c.activation = Activation::relu, c.positions = PositionType::sinusoidal;
    c.bias = true, c.tie_embeddings = true;
    c.embedding_scale = std::sqrt(32.f);
    return c;
}

struct Case {
    const char* name;
    CheckpointFormat format;
    TransformerConfig config;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {"gpt2", CheckpointFormat::hf_gpt2, gpt2_config()},
        {"bert_mlm", CheckpointFormat::hf_bert, bert_config(HeadType::mlm)},
        {"bert_cls", CheckpointFormat::hf_bert, bert_config(HeadType::classifier)},
        {"llama", CheckpointFormat::hf_llama, llama_config()},
        {"seq2seq_post", CheckpointFormat::torch_transformer, seq2seq_config(NormPlacement::post)},
        {"seq2seq_pre", CheckpointFormat::torch_transformer, seq2seq_config(NormPlacement::pre)},
    };
    return all;
}

const std::map<std::string, Tensor>& reference() {
    static const std::map<std::string, Tensor> tensors = attend::testing::load_reference("models");
    return tensors;
}

// Every tensor of the case under "<case>.<group>.", without that prefix.
std::map<std::string, Tensor> group(const std::string& prefix) {
    std::map<std::string, Tensor> out;
    for (const auto& [name, t] : reference())
        if (name.compare(0, prefix.size(), prefix) == 0) out[name.substr(prefix.size())] = t;
    return out;
}

struct Param {
    size_t index;
    AttentionPath path;
};

void PrintTo(const Param& p, std::ostream* os) {
    *os << cases()[p.index].name << (p.path == AttentionPath::fused ? " (fused)" : " (reference)");
}

class ModelParity : public ::testing::TestWithParam<Param> {
protected:
    const Case& the_case() const { return cases()[GetParam().index]; }
    Tensor get(const std::string& key) const {
        auto it = reference().find(std::string(the_case().name) + "." + key);
        if (it == reference().end()) {
            ADD_FAILURE() << "models.safetensors has no " << the_case().name << "." << key;
            return Tensor();
        }
        return it->second;
    }
    bool has(const std::string& key) const { return reference().count(std::string(the_case().name) + "." + key) > 0; }
    TokenBatch tokens(const std::string& ids, const std::string& lengths, const std::string& types = "") const {
        TokenBatch t;
        const Tensor i = get(ids);
        t.ids = ids_of(i);
        t.shape = i.shape();
        t.lengths = ids_of(get(lengths));
        if (!types.empty()) t.token_types = ids_of(get(types));
        return t;
    }
};

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

TEST_P(ModelParity, MatchesTorch) {
    const Case& c = the_case();
    const AttentionPath path = GetParam().path;
    ASSERT_TRUE(has("logits")) << "case " << c.name << " missing from models.safetensors";

    // ---- the weights, through the checkpoint mapping ----
    Transformer model(c.config);
    std::vector<std::string> unused;
    const auto weights = convert_checkpoint(c.config, c.format, group(std::string(c.name) + ".param."), &unused);
    EXPECT_TRUE(unused.empty()) << c.name << ": " << unused.size() << " torch tensors unused, e.g. "
                                << (unused.empty() ? "" : unused.front());
    NamedParameters params = model.parameters();
    ASSERT_NO_THROW(load_parameters(params, weights, "", true));
    EXPECT_EQ(count_parameters(params), parameter_count(c.config));

    // ---- forward, loss, backward ----
    ForwardMode mode;
    mode.attention_path = path;
    Tensor logits;
    if (c.config.shape == ModelShape::encoder_decoder)
        logits = model.forward(tokens("src", "src_lengths"), tokens("tgt", "tgt_lengths"), mode);
    else
        logits = model.forward(tokens("ids", "lengths", has("token_types") ? "token_types" : ""), mode);
    const Tensor loss = Transformer::loss(logits, ids_of(get("targets")));
    zero_grad(params);
    loss.backward();

    EXPECT_TRUE(close_to(logits, get("logits"), kTolerance, std::string(c.name) + " logits"));
    EXPECT_TRUE(close_to(loss.reshape({1}), get("loss"), kTolerance, std::string(c.name) + " loss"));
    const double logits_err = relative_error(logits, get("logits"));
    const double loss_err = relative_error(loss.reshape({1}), get("loss"));

    // ---- every parameter's gradient ----
    const auto expected = convert_checkpoint(c.config, c.format, group(std::string(c.name) + ".grad."));
    ASSERT_EQ(expected.size(), params.size()) << "torch and attend disagree on the number of parameters";
    double worst = 0;
    std::string worst_name;
    for (const auto& [name, p] : params) {
        auto it = expected.find(name);
        ASSERT_NE(it, expected.end()) << "no torch gradient for " << name;
        ASSERT_TRUE(p->grad().defined()) << name << " received no gradient";
        // dL/d(key bias) is zero in exact arithmetic (it adds q_i·b_k to every score of row i,
        // which softmax ignores), so both libraries return rounding noise: it is measured on
        // the scale of the same layer's query-bias gradient instead of its own.
        double floor = 1e-6;
        if (ends_with(name, "k_proj.bias")) {
            const std::string q = name.substr(0, name.size() - std::string("k_proj.bias").size()) + "q_proj.bias";
            for (float v : expected.at(q).to_vector()) floor = std::max(floor, double(std::fabs(v)));
        }
        const double e = relative_error(p->grad(), it->second, floor);
        EXPECT_EQ(p->grad().shape(), it->second.shape()) << name;
        EXPECT_LE(e, kTolerance) << c.name << " grad " << name;
        if (e >= worst) worst = e, worst_name = name;
    }
    std::printf("[ models   ] %-13s %-9s logits %.2e  loss %.2e  worst grad %.2e (%s, %zu parameters)\n", c.name,
                path == AttentionPath::fused ? "fused" : "reference", logits_err, loss_err, worst,
                worst_name.c_str(), params.size());
}

std::vector<Param> all_params() {
    std::vector<Param> out;
    for (size_t i = 0; i < cases().size(); ++i)
        for (AttentionPath p : {AttentionPath::reference, AttentionPath::fused}) out.push_back({i, p});
    return out;
}

INSTANTIATE_TEST_SUITE_P(Torch, ModelParity, ::testing::ValuesIn(all_params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                             return std::string(cases()[info.param.index].name) +
                                    (info.param.path == AttentionPath::fused ? "_fused" : "_reference");
                         });

// The mapping refuses what does not fit: a missing tensor is named, a wrong shape is caught.
TEST(ModelCheckpoint, MissingAndMisshapenTensorsAreNamed) {
    const TransformerConfig c = gpt2_config();
    auto source = group("gpt2.param.");
    ASSERT_FALSE(source.empty());
    auto missing = source;
    missing.erase("transformer.h.1.mlp.c_fc.weight");
    try {
        convert_checkpoint(c, CheckpointFormat::hf_gpt2, missing);
        ADD_FAILURE() << "a missing tensor was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("transformer.h.1.mlp.c_fc.weight"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("layers.1.ff.linear1.weight"), std::string::npos) << e.what();
    }
    // GPT2Model's bare names (no "transformer.") load as well.
    std::map<std::string, Tensor> bare;
    for (const auto& [name, t] : source) bare[name.substr(std::string("transformer.").size())] = t;
    std::vector<std::string> unused;
    EXPECT_EQ(convert_checkpoint(c, CheckpointFormat::hf_gpt2, bare, &unused).size(),
              convert_checkpoint(c, CheckpointFormat::hf_gpt2, source).size());
    EXPECT_TRUE(unused.empty());
    // A too-small model: the shapes disagree when loading.
    TransformerConfig smaller = c;
    smaller.d_ff = 96;
    Transformer model(smaller);
    EXPECT_THROW(load_checkpoint(model, CheckpointFormat::hf_gpt2, source), Error);
    // An extra tensor is reported, not silently dropped.
    auto extra = source;
    extra["transformer.h.2.ln_1.weight"] = Tensor::ones({48});
    Transformer gpt2(c);
    try {
        load_checkpoint(gpt2, CheckpointFormat::hf_gpt2, extra);
        ADD_FAILURE() << "an unused tensor was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("transformer.h.2.ln_1.weight"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(load_checkpoint(gpt2, CheckpointFormat::hf_gpt2, extra, /*strict=*/false));
    EXPECT_EQ(gpt2.decoder.layers[1].ff.up.weight.to_vector(),
              source.at("transformer.h.1.mlp.c_fc.weight").transpose(0, 1).contiguous().to_vector());
    // The wrong family for the shape is refused.
    EXPECT_THROW(convert_checkpoint(c, CheckpointFormat::hf_bert, source), Error);
}

}  // namespace
