// Ten AdamW steps held to PyTorch (tests/reference/train.py), as llm.c's test_gpt2: a tiny
// GPT-2 and a tiny seq2seq Transformer start from torch's weights (through the HF-name
// loader), see the same batches, and take our AdamW steps with the same parameter groups,
// clipping and schedule. Every step's loss must match torch's to ≤ 1e-4.
#include <gtest/gtest.h>

#include <cmath>

#include "attend/io/hf_names.hpp"
#include "attend/models/transformer.hpp"
#include "attend/train/data.hpp"
#include "attend/train/optimizer.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::ids_of;

namespace {

constexpr int kSteps = 10;

const std::map<std::string, Tensor>& reference() {
    static const auto tensors = attend::testing::load_reference("train");
    return tensors;
}

std::map<std::string, Tensor> group(const std::string& prefix) {
    std::map<std::string, Tensor> out;
    for (const auto& [name, t] : reference())
        if (name.compare(0, prefix.size(), prefix) == 0) out[name.substr(prefix.size())] = t;
    return out;
}

const Tensor& get(const std::string& key) {
    auto it = reference().find(key);
    if (it == reference().end()) throw std::runtime_error("train.safetensors has no " + key);
    return it->second;
}

TokenBatch tokens(const std::string& ids, const std::string& lengths = "") {
    TokenBatch b;
    b.ids = ids_of(get(ids));
    b.shape = get(ids).shape();
    if (!lengths.empty()) b.lengths = ids_of(get(lengths));
    return b;
}

// What train.py does, in our terms.
const LrSchedule kSchedule{1e-2f, 1e-3f, 3, kSteps};
const AdamWOptions kAdamW{0.9f, 0.95f, 1e-8f, 0.1f};

void check_ten_steps(Transformer& model, const std::string& name, CheckpointFormat format,
                     const std::function<Tensor(int)>& loss_at) {
    load_checkpoint(model, format, group(name + ".param."));
    NamedParameters params = model.parameters();
    for (auto& [n, p] : params) p->requires_grad_(true);
    AdamW optimizer(params, kAdamW);
    const std::vector<float> expected = get(name + ".losses").to_vector();
    ASSERT_EQ(expected.size(), size_t(kSteps));
    double worst = 0;
    for (int step = 0; step < kSteps; ++step) {
        optimizer.zero_grad();
        Tensor loss = loss_at(step);
        loss.backward();
        clip_grad_norm(params, 1.f);
        optimizer.step(kSchedule.at(step));
        const double error = std::fabs(double(loss.item()) - double(expected[size_t(step)]));
        worst = std::max(worst, error);
        EXPECT_LE(error, 1e-4) << name << " step " << step << ": ours " << loss.item() << ", torch "
                               << expected[size_t(step)];
    }
    // The losses went somewhere: the weights moved and the loss fell.
    EXPECT_LT(expected.back(), expected.front() - 0.05f) << name;
    // The final weights, mapped to our names, agree too (looser: ten updates of float32 vs float64).
    Transformer after(model.config(), 0);
    load_checkpoint(after, format, group(name + ".final."));
    const NamedParameters theirs = after.parameters();
    double worst_param = 0;
    std::string worst_name;
    for (size_t i = 0; i < params.size(); ++i) {
        // A key bias has zero gradient in exact arithmetic (it adds q·b to every score of a
        // row, which softmax ignores); both sides see rounding noise there, which Adam's
        // m/√v scales up to steps of ±lr. Nothing to compare.
        if (params[i].first.find("k_proj.bias") != std::string::npos) continue;
        const double e = attend::testing::relative_error(*params[i].second, *theirs[i].second);
        if (e > worst_param) worst_param = e, worst_name = params[i].first;
    }
    EXPECT_LE(worst_param, 1e-3) << name << ": final parameters, worst " << worst_name;
    std::printf("%s: worst |loss - torch| over %d AdamW steps %.3g, worst final parameter error %.3g\n", name.c_str(),
                kSteps, worst, worst_param);
}

}  // namespace

TEST(TrainParity, Gpt2TenAdamWStepsMatchTorch) {
    TransformerConfig c;
    c.name = "gpt2-train-tiny";
    c.shape = ModelShape::decoder, c.head = HeadType::lm;
    c.vocab_size = 31, c.max_positions = 16, c.d_model = 32, c.n_layers = 2, c.n_heads = 4, c.d_ff = 128;
    c.norm = NormType::layer_norm, c.norm_placement = NormPlacement::pre, c.final_norm = true, c.norm_eps = 1e-5f;
    c.activation = Activation::gelu_tanh, c.positions = PositionType::learned;
    c.bias = true, c.tie_embeddings = true;
    Transformer model(c, 0);
    check_ten_steps(model, "gpt2", CheckpointFormat::hf_gpt2, [&](int step) {
        const std::string s = "gpt2.step" + std::to_string(step) + ".";
        return Transformer::loss(model.forward(tokens(s + "ids")), ids_of(get(s + "targets")));
    });
}

TEST(TrainParity, Seq2SeqTenAdamWStepsMatchTorch) {
    TransformerConfig c;
    c.name = "seq2seq-train-tiny";
    c.shape = ModelShape::encoder_decoder, c.head = HeadType::seq2seq;
    c.vocab_size = 29, c.d_model = 32, c.n_heads = 4, c.d_ff = 64, c.n_encoder_layers = 2, c.n_layers = 2;
    c.max_positions = 32;
    c.norm = NormType::layer_norm, c.norm_placement = NormPlacement::pre, c.final_norm = true, c.norm_eps = 1e-5f;
    c.activation = Activation::relu, c.positions = PositionType::sinusoidal;
    c.bias = true, c.tie_embeddings = true, c.embedding_scale = std::sqrt(32.f);
    Transformer model(c, 0);
    check_ten_steps(model, "seq2seq", CheckpointFormat::torch_transformer, [&](int step) {
        const std::string s = "seq2seq.step" + std::to_string(step) + ".";
        const Tensor logits = model.forward(tokens(s + "src", s + "src_lengths"), tokens(s + "tgt", s + "tgt_lengths"));
        return Transformer::loss(logits, ids_of(get(s + "targets")));
    });
}
