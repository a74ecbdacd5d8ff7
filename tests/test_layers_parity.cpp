// The blocks held to PyTorch (tests/reference/layers.py, computed in float64 on the weights
// we load): torch.nn.TransformerEncoderLayer, TransformerDecoderLayer and nn.Transformer in
// both norm orders, a Hugging Face-shaped Llama decoder layer (RMSNorm, RoPE in both layouts,
// GQA, SwiGLU, per-sequence position offsets), RoPE alone, the sinusoidal table and the
// feed-forward networks. Outputs are held to 1e-5 and every parameter and input gradient to
// 1e-4, relative to the reference's scale; each case runs on both attention paths.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/nn/block.hpp"
#include "attend/nn/block_config.hpp"
#include "attend/nn/feed_forward.hpp"
#include "attend/nn/layers.hpp"
#include "attend/nn/positions.hpp"
#include "attend/ops.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::close_to;
using attend::testing::relative_error;

namespace {

const std::map<std::string, Tensor>& reference() {
    static const std::map<std::string, Tensor> tensors = attend::testing::load_reference("layers");
    return tensors;
}

Tensor stored(const std::string& key) {
    auto it = reference().find(key);
    if (it == reference().end()) {
        ADD_FAILURE() << "layers.safetensors has no " << key;
        return Tensor();
    }
    return it->second;
}

// A fresh leaf holding the file's values.
Tensor leaf(const std::string& key) {
    Tensor t = stored(key).clone();
    t.requires_grad_(true);
    return t;
}

std::vector<int64_t> ints(const std::string& key) {
    std::vector<int64_t> out;
    for (float v : stored(key).to_vector()) out.push_back(int64_t(v));
    return out;
}

// One torch parameter and the parameters of ours that hold it, stacked by rows (torch packs
// W_q, W_k, W_v into in_proj_weight; everything else is one to one).
struct Link {
    std::string torch_name;
    std::vector<Tensor*> ours;
};

// torch's TransformerEncoderLayer / TransformerDecoderLayer names -> a Block's tensors.
void link_torch_layer(Block& block, const std::string& tp, bool decoder, std::vector<Link>& links) {
    auto attention = [&](const std::string& name, MultiHeadAttention& m) {
        links.push_back({tp + name + ".in_proj_weight", {&m.q_proj.weight, &m.k_proj.weight, &m.v_proj.weight}});
        links.push_back({tp + name + ".in_proj_bias", {&m.q_proj.bias, &m.k_proj.bias, &m.v_proj.bias}});
        links.push_back({tp + name + ".out_proj.weight", {&m.out_proj.weight}});
        links.push_back({tp + name + ".out_proj.bias", {&m.out_proj.bias}});
    };
    auto norm = [&](const std::string& name, Norm& n) {
        links.push_back({tp + name + ".weight", {&n.weight()}});
        links.push_back({tp + name + ".bias", {&n.bias()}});
    };
    attention("self_attn", block.self_attn);
    norm("norm1", block.self_attn_norm);
    if (decoder) {
        attention("multihead_attn", *block.cross_attn);
        norm("norm2", block.cross_attn_norm);
        norm("norm3", block.ff_norm);
    } else {
        norm("norm2", block.ff_norm);
    }
    links.push_back({tp + "linear1.weight", {&block.ff.up.weight}});
    links.push_back({tp + "linear1.bias", {&block.ff.up.bias}});
    links.push_back({tp + "linear2.weight", {&block.ff.down.weight}});
    links.push_back({tp + "linear2.bias", {&block.ff.down.bias}});
}

// Hugging Face's LlamaDecoderLayer names -> a Block's tensors.
void link_llama_layer(Block& block, std::vector<Link>& links) {
    MultiHeadAttention& a = block.self_attn;
    links.push_back({"self_attn.q_proj.weight", {&a.q_proj.weight}});
    links.push_back({"self_attn.k_proj.weight", {&a.k_proj.weight}});
    links.push_back({"self_attn.v_proj.weight", {&a.v_proj.weight}});
    links.push_back({"self_attn.o_proj.weight", {&a.out_proj.weight}});
    links.push_back({"mlp.gate_proj.weight", {&block.ff.gate.weight}});
    links.push_back({"mlp.up_proj.weight", {&block.ff.up.weight}});
    links.push_back({"mlp.down_proj.weight", {&block.ff.down.weight}});
    links.push_back({"input_layernorm.weight", {&block.self_attn_norm.weight()}});
    links.push_back({"post_attention_layernorm.weight", {&block.ff_norm.weight()}});
}

// Copy "<case>.param.<torch name>" into our tensors; every torch parameter of the case must be
// linked (so none is silently left at its initial value).
void load_links(const std::vector<Link>& links, const std::string& prefix) {
    const std::string params = prefix + "param.";
    size_t in_file = 0;
    for (const auto& [key, t] : reference()) in_file += key.compare(0, params.size(), params) == 0;
    EXPECT_EQ(in_file, links.size()) << prefix << ": torch has " << in_file << " parameters, we linked "
                                     << links.size();
    for (const Link& link : links) {
        const Tensor source = stored(params + link.torch_name);
        ASSERT_TRUE(source.defined());
        int64_t row = 0;
        for (Tensor* p : link.ours) {
            ASSERT_TRUE(p->defined()) << link.torch_name;
            const int64_t rows = p->size(0);
            copy_parameter(*p, source.slice(0, row, row + rows), link.torch_name);
            row += rows;
        }
        EXPECT_EQ(row, source.size(0)) << link.torch_name << " not fully consumed";
    }
}

// Worst error of a kind, with what it was.
struct Worst {
    double error = 0;
    std::string what;
    void see(const Tensor& actual, const Tensor& expected, const std::string& name) {
        if (!actual.defined() || !expected.defined() || actual.shape() != expected.shape()) return;
        const double e = relative_error(actual, expected);
        if (e >= error) error = e, what = name;
    }
};

void expect_close(const Tensor& actual, const Tensor& expected, double tol, const std::string& what, Worst& worst) {
    EXPECT_TRUE(close_to(actual, expected, tol, what));
    worst.see(actual, expected, what);
}

// Our gradients, stacked as torch's parameter, against "<case>.grad.<torch name>". For the
// packed in_proj_bias the k part is zero in exact arithmetic (softmax ignores a per-row shift),
// so both sides hold rounding noise there; the whole tensor's scale is the fair yardstick,
// which is what relative_error over the stacked tensor uses.
void compare_grads(const std::vector<Link>& links, const std::string& prefix, Worst& worst) {
    NoGradGuard no_grad;
    for (const Link& link : links) {
        std::vector<Tensor> parts;
        for (Tensor* p : link.ours) {
            ASSERT_TRUE(p->grad().defined()) << prefix << link.torch_name << ": no gradient reached it";
            parts.push_back(p->grad());
        }
        const Tensor ours = parts.size() == 1 ? parts[0] : concat(parts, 0);
        expect_close(ours, stored(prefix + "grad." + link.torch_name), 1e-4, prefix + "grad." + link.torch_name,
                     worst);
    }
}

BlockConfig torch_layer_config(NormPlacement placement, Activation activation) {
    BlockConfig c;
    c.d_model = 32, c.n_heads = 4, c.d_ff = 64;
    c.norm = NormType::layer_norm, c.norm_placement = placement, c.norm_eps = 1e-5f;
    c.activation = activation;
    c.positions = PositionType::none;
    c.bias = true;
    c.dropout = 0.f;
    return c;
}

AttentionMask padding(const std::vector<int64_t>& lengths) {
    AttentionMask m;
    m.key_lengths = lengths;
    return m;
}

const char* path_name(AttentionPath p) { return p == AttentionPath::fused ? "fused" : "reference"; }

void report(const char* kind, const std::string& name, AttentionPath path, const Worst& fwd, const Worst& grad) {
    std::printf("[ layers   ] %-10s %-26s %-9s out %.2e  worst grad %.2e (%s)\n", kind, name.c_str(),
                path_name(path), fwd.error, grad.error, grad.what.c_str());
}

// ---------------------------------------------------------------- torch layers

struct TorchCase {
    const char* name;
    NormPlacement placement;
    Activation activation;
    bool causal;  // encoder cases: src_mask = causal
};

struct TorchParam {
    TorchCase c;
    AttentionPath path;
};

class TorchLayerParity : public ::testing::TestWithParam<TorchParam> {};

const TorchCase kEncoderCases[] = {
    {"encoder_post_relu", NormPlacement::post, Activation::relu, false},
    {"encoder_pre_gelu", NormPlacement::pre, Activation::gelu, false},
    {"encoder_post_gelu_causal", NormPlacement::post, Activation::gelu, true},
};
const TorchCase kDecoderCases[] = {
    {"decoder_post_relu", NormPlacement::post, Activation::relu, true},
    {"decoder_pre_gelu", NormPlacement::pre, Activation::gelu, true},
};
const TorchCase kTransformerCases[] = {
    {"transformer_post_relu", NormPlacement::post, Activation::relu, true},
    {"transformer_pre_gelu", NormPlacement::pre, Activation::gelu, true},
};

std::vector<TorchParam> with_paths(const TorchCase* begin, const TorchCase* end) {
    std::vector<TorchParam> out;
    for (const TorchCase* c = begin; c != end; ++c)
        for (AttentionPath p : {AttentionPath::reference, AttentionPath::fused}) out.push_back({*c, p});
    return out;
}

std::string torch_param_name(const ::testing::TestParamInfo<TorchParam>& info) {
    return std::string(info.param.c.name) + "_" + path_name(info.param.path);
}

class BlockParityEncoder : public TorchLayerParity {};
class BlockParityDecoder : public TorchLayerParity {};
class BlockParityTransformer : public TorchLayerParity {};

TEST_P(BlockParityEncoder, TransformerEncoderLayer) {
    const TorchCase& c = GetParam().c;
    const std::string prefix = std::string(c.name) + ".";
    Generator gen(0);
    Block block(torch_layer_config(c.placement, c.activation), {.causal = c.causal, .cross_attention = false}, gen);
    std::vector<Link> links;
    link_torch_layer(block, "", false, links);
    load_links(links, prefix);

    const Tensor src = leaf(prefix + "src");
    BlockArgs args;
    args.self_mask = padding(ints(prefix + "src_lengths"));
    ForwardMode mode;
    mode.attention_path = GetParam().path;
    const Tensor y = block.forward(src, args, mode);
    y.backward(stored(prefix + "probe"));

    Worst fwd, grad;
    expect_close(y, stored(prefix + "out"), 1e-5, prefix + "out", fwd);
    expect_close(src.grad(), stored(prefix + "grad.src"), 1e-4, prefix + "grad.src", grad);
    compare_grads(links, prefix, grad);
    report("encoder", c.name, GetParam().path, fwd, grad);
}

TEST_P(BlockParityDecoder, TransformerDecoderLayer) {
    const TorchCase& c = GetParam().c;
    const std::string prefix = std::string(c.name) + ".";
    Generator gen(0);
    Block block(torch_layer_config(c.placement, c.activation), {.causal = true, .cross_attention = true}, gen);
    std::vector<Link> links;
    link_torch_layer(block, "", true, links);
    load_links(links, prefix);

    const Tensor tgt = leaf(prefix + "tgt"), memory = leaf(prefix + "memory");
    BlockArgs args;
    args.self_mask = padding(ints(prefix + "tgt_lengths"));
    args.memory = memory;
    args.memory_mask = padding(ints(prefix + "memory_lengths"));
    ForwardMode mode;
    mode.attention_path = GetParam().path;
    const Tensor y = block.forward(tgt, args, mode);
    y.backward(stored(prefix + "probe"));

    Worst fwd, grad;
    expect_close(y, stored(prefix + "out"), 1e-5, prefix + "out", fwd);
    expect_close(tgt.grad(), stored(prefix + "grad.tgt"), 1e-4, prefix + "grad.tgt", grad);
    expect_close(memory.grad(), stored(prefix + "grad.memory"), 1e-4, prefix + "grad.memory", grad);
    compare_grads(links, prefix, grad);
    report("decoder", c.name, GetParam().path, fwd, grad);
}

// nn.Transformer: 2 encoder blocks + the encoder's final LayerNorm, 2 decoder blocks with
// cross-attention on it + the decoder's final LayerNorm (torch adds both norms in either order).
TEST_P(BlockParityTransformer, Transformer) {
    const TorchCase& c = GetParam().c;
    const std::string prefix = std::string(c.name) + ".";
    const BlockConfig config = torch_layer_config(c.placement, c.activation);
    Generator gen(0);
    std::vector<Block> encoder, decoder;
    std::vector<Link> links;
    for (int i = 0; i < 2; ++i) {
        encoder.emplace_back(config, BlockOptions{.causal = false, .cross_attention = false}, gen);
        decoder.emplace_back(config, BlockOptions{.causal = true, .cross_attention = true}, gen);
    }
    for (int i = 0; i < 2; ++i) {
        link_torch_layer(encoder[i], "encoder.layers." + std::to_string(i) + ".", false, links);
        link_torch_layer(decoder[i], "decoder.layers." + std::to_string(i) + ".", true, links);
    }
    LayerNorm encoder_norm(config.d_model, config.norm_eps), decoder_norm(config.d_model, config.norm_eps);
    links.push_back({"encoder.norm.weight", {&encoder_norm.weight}});
    links.push_back({"encoder.norm.bias", {&encoder_norm.bias}});
    links.push_back({"decoder.norm.weight", {&decoder_norm.weight}});
    links.push_back({"decoder.norm.bias", {&decoder_norm.bias}});
    load_links(links, prefix);

    const Tensor src = leaf(prefix + "src"), tgt = leaf(prefix + "tgt");
    const AttentionMask src_padding = padding(ints(prefix + "src_lengths"));
    ForwardMode mode;
    mode.attention_path = GetParam().path;

    BlockArgs encoder_args;
    encoder_args.self_mask = src_padding;
    Tensor memory = src;
    for (const Block& b : encoder) memory = b.forward(memory, encoder_args, mode);
    memory = encoder_norm.forward(memory);
    BlockArgs args;
    args.self_mask = padding(ints(prefix + "tgt_lengths"));
    args.memory = memory;
    args.memory_mask = src_padding;
    Tensor y = tgt;
    for (const Block& b : decoder) y = b.forward(y, args, mode);
    y = decoder_norm.forward(y);
    y.backward(stored(prefix + "probe"));

    Worst fwd, grad;
    expect_close(y, stored(prefix + "out"), 1e-5, prefix + "out", fwd);
    expect_close(src.grad(), stored(prefix + "grad.src"), 1e-4, prefix + "grad.src", grad);
    expect_close(tgt.grad(), stored(prefix + "grad.tgt"), 1e-4, prefix + "grad.tgt", grad);
    compare_grads(links, prefix, grad);
    report("nn.Transf.", c.name, GetParam().path, fwd, grad);
}

INSTANTIATE_TEST_SUITE_P(Torch, BlockParityEncoder, ::testing::ValuesIn(with_paths(std::begin(kEncoderCases),
                                                                                     std::end(kEncoderCases))),
                         torch_param_name);
INSTANTIATE_TEST_SUITE_P(Torch, BlockParityDecoder, ::testing::ValuesIn(with_paths(std::begin(kDecoderCases),
                                                                                     std::end(kDecoderCases))),
                         torch_param_name);
INSTANTIATE_TEST_SUITE_P(Torch, BlockParityTransformer,
                         ::testing::ValuesIn(with_paths(std::begin(kTransformerCases), std::end(kTransformerCases))),
                         torch_param_name);

// ---------------------------------------------------------------- Llama-style block

struct LlamaParam {
    const char* name;
    RopeLayout layout;
    AttentionPath path;
};

class BlockParityLlama : public ::testing::TestWithParam<LlamaParam> {};

TEST_P(BlockParityLlama, HuggingFaceLlamaDecoderLayer) {
    const LlamaParam& p = GetParam();
    const std::string prefix = std::string(p.name) + ".";
    BlockConfig c;
    c.d_model = 32, c.n_heads = 4, c.n_kv_heads = 2, c.d_ff = 88, c.max_positions = 16;
    c.norm = NormType::rms_norm, c.norm_placement = NormPlacement::pre, c.norm_eps = 1e-5f;
    c.activation = Activation::swiglu;
    c.positions = PositionType::rope, c.rope_layout = p.layout, c.rope_theta = 10000.f;
    c.bias = false;
    Generator gen(0);
    Block block(c, {.causal = true, .cross_attention = false}, gen);
    std::vector<Link> links;
    link_llama_layer(block, links);
    load_links(links, prefix);
    EXPECT_EQ(parameters_of(block).size(), links.size()) << "a Llama block has exactly HF's parameters";

    const Tensor x = leaf(prefix + "x");
    BlockArgs args;
    args.self_mask = padding(ints(prefix + "lengths"));
    args.position_offsets = ints(prefix + "offsets");  // (0, 3, 11): 11 + 7 > max_positions, off the table
    ForwardMode mode;
    mode.attention_path = p.path;
    const Tensor y = block.forward(x, args, mode);
    y.backward(stored(prefix + "probe"));

    Worst fwd, grad;
    expect_close(y, stored(prefix + "out"), 1e-5, prefix + "out", fwd);
    expect_close(x.grad(), stored(prefix + "grad.x"), 1e-4, prefix + "grad.x", grad);
    compare_grads(links, prefix, grad);
    report("llama", p.name, p.path, fwd, grad);
}

INSTANTIATE_TEST_SUITE_P(Torch, BlockParityLlama,
                         ::testing::Values(LlamaParam{"llama_rotate_half", RopeLayout::rotate_half, AttentionPath::fused},
                                           LlamaParam{"llama_rotate_half", RopeLayout::rotate_half,
                                                      AttentionPath::reference},
                                           LlamaParam{"llama_interleaved", RopeLayout::interleaved, AttentionPath::fused},
                                           LlamaParam{"llama_interleaved", RopeLayout::interleaved,
                                                      AttentionPath::reference}),
                         [](const ::testing::TestParamInfo<LlamaParam>& info) {
                             return std::string(info.param.name) + "_" + path_name(info.param.path);
                         });

// ---------------------------------------------------------------- RoPE alone

struct RopeCase {
    const char* name;
    RopeLayout layout;
    float theta;
};

class RopeParity : public ::testing::TestWithParam<RopeCase> {};

TEST_P(RopeParity, MatchesTorchForwardAndBackward) {
    const RopeCase& c = GetParam();
    const std::string prefix = std::string(c.name) + ".";
    const Tensor x = leaf(prefix + "x");
    const std::vector<int64_t> offsets = ints(prefix + "offsets");
    const Tensor y = apply_rope(x, c.theta, c.layout, offsets);
    y.backward(stored(prefix + "probe"));

    Worst fwd, grad;
    expect_close(y, stored(prefix + "out"), 1e-5, prefix + "out", fwd);
    expect_close(x.grad(), stored(prefix + "grad.x"), 1e-5, prefix + "grad.x", grad);
    std::printf("[ layers   ] rope       %-26s out %.2e  grad %.2e\n", c.name, fwd.error, grad.error);

    // The precomputed table (covering some of the positions) gives the same bits.
    NoGradGuard no_grad;
    const RotaryEmbedding rotary(x.size(3), c.theta, c.layout, /*max_positions=*/9);
    EXPECT_EQ(rotary.forward(x, offsets).to_vector(), y.to_vector());
    // Explicit positions say the same as offsets.
    EXPECT_EQ(apply_rope_at(x, position_ids(x.size(0), x.size(2), offsets), c.theta, c.layout).to_vector(),
              y.to_vector());
}

INSTANTIATE_TEST_SUITE_P(Torch, RopeParity,
                         ::testing::Values(RopeCase{"rope_rotate_half", RopeLayout::rotate_half, 10000.f},
                                           RopeCase{"rope_interleaved", RopeLayout::interleaved, 10000.f},
                                           RopeCase{"rope_far_rotate_half", RopeLayout::rotate_half, 500000.f},
                                           RopeCase{"rope_far_interleaved", RopeLayout::interleaved, 500000.f}),
                         [](const ::testing::TestParamInfo<RopeCase>& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------- sinusoidal table, feed-forward

TEST(LayerParity, SinusoidalTableMatchesTorchTutorial) {
    for (auto [P, d] : {std::pair<int64_t, int64_t>{128, 64}, {50, 512}}) {
        const std::string key = "sinusoidal." + std::to_string(P) + "x" + std::to_string(d);
        const Tensor ours = sinusoidal_table(P, d);
        // Values are in [−1, 1]: the relative error is the absolute error; float rounding is 6e-8.
        EXPECT_TRUE(close_to(ours, stored(key), 1e-6, key));
        std::printf("[ layers   ] sinusoidal %-26s %.2e\n", key.c_str(), relative_error(ours, stored(key)));
        // And the module hands out its rows at per-sequence offsets.
        const SinusoidalPositions positions(P, d);
        const Tensor rows = positions.forward(2, 3, {0, 7});  // (2, 3, d)
        EXPECT_EQ(rows.slice(0, 1, 2).reshape({3, d}).to_vector(), ours.slice(0, 7, 10).contiguous().to_vector());
    }
}

struct FeedForwardCase {
    const char* name;
    Activation activation;
    int64_t d_ff;
    bool bias;
};

class LayerParityFeedForward : public ::testing::TestWithParam<FeedForwardCase> {};

TEST_P(LayerParityFeedForward, MatchesTorch) {
    const FeedForwardCase& c = GetParam();
    const std::string prefix = std::string(c.name) + ".";
    Generator gen(0);
    FeedForward ff(32, c.d_ff, c.activation, c.bias, 0.f, gen);
    // Our FeedForward's names are torch's here (linear1/linear2, gate_proj/up_proj/down_proj).
    const NamedParameters params = parameters_of(ff);
    load_parameters(params, reference(), prefix + "param.");

    const Tensor x = leaf(prefix + "x");
    const Tensor y = ff.forward(x);
    y.backward(stored(prefix + "probe"));
    Worst fwd, grad;
    expect_close(y, stored(prefix + "out"), 1e-5, prefix + "out", fwd);
    expect_close(x.grad(), stored(prefix + "grad.x"), 1e-4, prefix + "grad.x", grad);
    for (const auto& [name, p] : params)
        expect_close(p->grad(), stored(prefix + "grad." + name), 1e-4, prefix + "grad." + name, grad);
    std::printf("[ layers   ] ff         %-26s out %.2e  worst grad %.2e (%s)\n", c.name, fwd.error, grad.error,
                grad.what.c_str());
}

INSTANTIATE_TEST_SUITE_P(Torch, LayerParityFeedForward,
                         ::testing::Values(FeedForwardCase{"ff_swiglu", Activation::swiglu, 88, false},
                                           FeedForwardCase{"ff_swiglu_bias", Activation::swiglu, 48, true},
                                           FeedForwardCase{"ff_gelu_tanh", Activation::gelu_tanh, 64, true},
                                           FeedForwardCase{"ff_relu", Activation::relu, 64, true}),
                         [](const ::testing::TestParamInfo<FeedForwardCase>& info) {
                             return std::string(info.param.name);
                         });

}  // namespace
