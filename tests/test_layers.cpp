// The blocks of src/nn on their own: initialisation and parameter names, loading, dropout
// modes, RoPE's defining property, finite-difference gradients of apply_rope and of Blocks in
// every shape, and the KV cache: decoding a ragged batch step by step equals one full pass.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "attend/gradcheck.hpp"
#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/nn/block.hpp"
#include "attend/nn/block_config.hpp"
#include "attend/nn/feed_forward.hpp"
#include "attend/nn/kv_cache.hpp"
#include "attend/nn/layers.hpp"
#include "attend/nn/module.hpp"
#include "attend/nn/positions.hpp"
#include "attend/ops.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::error_of;
using attend::testing::close_to;
using attend::testing::relative_error;

namespace {


std::vector<std::string> names_of(const NamedParameters& params) {
    std::vector<std::string> out;
    for (const auto& [name, p] : params) out.push_back(name);
    return out;
}

float max_abs(const Tensor& t) {
    float m = 0;
    for (float v : t.to_vector()) m = std::max(m, std::fabs(v));
    return m;
}

// Every parameter random (norm weights around 1), so no bias or gain hides a bug.
void randomise(NamedParameters params, Generator& gen) {
    NoGradGuard no_grad;
    for (auto& [name, p] : params) {
        const bool gain = name.find("norm") != std::string::npos && name.size() > 6 &&
                          name.compare(name.size() - 6, 6, "weight") == 0;
        for (int64_t i = 0; i < p->numel(); ++i) p->data()[i] = (gain ? 1.f : 0.f) + gen.uniform(-0.5f, 0.5f);
    }
}

BlockConfig small_config() {
    BlockConfig c;
    c.d_model = 16, c.n_heads = 4, c.d_ff = 24, c.max_positions = 32;
    c.norm = NormType::layer_norm, c.norm_placement = NormPlacement::pre;
    c.activation = Activation::gelu;
    c.positions = PositionType::learned;
    c.bias = true;
    return c;
}

BlockConfig llama_like() {
    BlockConfig c = small_config();
    c.n_kv_heads = 2;
    c.norm = NormType::rms_norm;
    c.activation = Activation::swiglu;
    c.positions = PositionType::rope;
    c.rope_layout = RopeLayout::interleaved;
    c.bias = false;
    return c;
}

}  // namespace

// ---------------------------------------------------------------- layers

TEST(LayerModules, LinearInitialisesAsTorchAndNamesItsParameters) {
    Generator gen(1);
    Linear fc(64, 48, true, gen);
    EXPECT_EQ(fc.weight.shape(), (Shape{48, 64}));
    EXPECT_EQ(fc.bias.shape(), (Shape{48}));
    EXPECT_EQ(fc.in_features(), 64);
    EXPECT_EQ(fc.out_features(), 48);
    // U(−1/√in, 1/√in) on both: 1/8 here.
    EXPECT_LE(max_abs(fc.weight), 0.125f);
    EXPECT_GT(max_abs(fc.weight), 0.95f * 0.125f);
    EXPECT_LE(max_abs(fc.bias), 0.125f);
    EXPECT_GT(max_abs(fc.bias), 0.5f * 0.125f);
    EXPECT_EQ(names_of(parameters_of(fc, "mlp.c_fc")), (std::vector<std::string>{"mlp.c_fc.weight", "mlp.c_fc.bias"}));
    EXPECT_EQ(names_of(parameters_of(fc)), (std::vector<std::string>{"weight", "bias"}));

    Linear no_bias(8, 4, false, gen);
    EXPECT_EQ(parameters_of(no_bias).size(), 1u);
    const Tensor x = Tensor::randn({2, 3, 8}, gen);
    EXPECT_EQ(no_bias.forward(x).to_vector(), linear(x, no_bias.weight).to_vector());
    const std::string m = error_of([&] { no_bias.forward(Tensor::zeros({2, 5})); });
    EXPECT_MENTIONS(m, "(2, 5)");
    EXPECT_MENTIONS(m, "8");
}

TEST(LayerModules, EmbeddingAndNorms) {
    Generator gen(2);
    Embedding emb(100, 32, gen);
    const Tensor var = mean(mul(emb.weight, emb.weight));
    EXPECT_NEAR(var.item(), 1.f, 0.1f);  // N(0, 1), as nn.Embedding
    Embedding small(100, 32, gen, 0.02f);
    EXPECT_NEAR(std::sqrt(mean(mul(small.weight, small.weight)).item()), 0.02f, 0.002f);
    const Tensor rows = emb.forward({3, 0, 99, 3}, {2, 2});
    EXPECT_EQ(rows.shape(), (Shape{2, 2, 32}));
    EXPECT_EQ(rows.slice(0, 1, 2).slice(1, 1, 2).reshape({32}).to_vector(),
              emb.weight.slice(0, 3, 4).reshape({32}).to_vector());
    EXPECT_MENTIONS(error_of([&] { emb.forward({100}, {1}); }), "100");

    LayerNorm ln(8, 1e-5f);
    EXPECT_EQ(ln.weight.to_vector(), std::vector<float>(8, 1.f));
    EXPECT_EQ(ln.bias.to_vector(), std::vector<float>(8, 0.f));
    const Tensor x = Tensor::randn({3, 8}, gen);
    EXPECT_EQ(ln.forward(x).to_vector(), layer_norm(x, ln.weight, ln.bias, 1e-5f).to_vector());
    EXPECT_MENTIONS(error_of([&] { ln.forward(Tensor::zeros({3, 7})); }), "(3, 7)");

    Norm rms(NormType::rms_norm, 8, 1e-6f);
    EXPECT_EQ(names_of(parameters_of(rms, "ln")), (std::vector<std::string>{"ln.weight"}));
    EXPECT_FALSE(rms.bias().defined());
    EXPECT_EQ(rms.forward(x).to_vector(), rms_norm(x, rms.weight(), 1e-6f).to_vector());
    Norm layer(NormType::layer_norm, 8, 1e-5f);
    EXPECT_EQ(names_of(parameters_of(layer, "ln")), (std::vector<std::string>{"ln.weight", "ln.bias"}));
}

TEST(LayerModules, LoadParametersChecksEverythingBeforeWriting) {
    Generator gen(3);
    Linear fc(4, 3, true, gen);
    const NamedParameters params = parameters_of(fc, "fc");
    const std::vector<float> before = fc.weight.to_vector();
    std::map<std::string, Tensor> source{{"m.fc.weight", Tensor::ones({3, 4})}, {"m.fc.bias", Tensor::ones({2})}};
    std::string m = error_of([&] { load_parameters(params, source, "m."); });
    EXPECT_MENTIONS(m, "m.fc.bias");
    EXPECT_MENTIONS(m, "(2,)");
    EXPECT_MENTIONS(m, "(3,)");
    EXPECT_EQ(fc.weight.to_vector(), before) << "a failed load must not write anything";

    source["m.fc.bias"] = Tensor::full({3}, 2.f);
    source["m.fc.extra"] = Tensor::zeros({1});
    m = error_of([&] { load_parameters(params, source, "m."); });
    EXPECT_MENTIONS(m, "m.fc.extra");
    EXPECT_EQ(fc.weight.to_vector(), before);

    const Tensor handle = fc.weight;  // loading writes in place: handles stay valid
    load_parameters(params, source, "m.", /*strict=*/false);
    EXPECT_EQ(handle.to_vector(), std::vector<float>(12, 1.f));
    EXPECT_EQ(fc.bias.to_vector(), std::vector<float>(3, 2.f));
    EXPECT_TRUE(fc.weight.requires_grad());
    EXPECT_EQ(count_parameters(params), 15);

    source.erase("m.fc.weight");
    EXPECT_MENTIONS(error_of([&] { load_parameters(params, source, "m.", false); }), "m.fc.weight");
}

TEST(LayerModules, DropoutFollowsTheMode) {
    Generator gen(4);
    FeedForward ff(8, 32, Activation::relu, true, 0.5f, gen);
    const Tensor x = Tensor::randn({4, 8}, gen);
    const Tensor eval1 = ff.forward(x), eval2 = ff.forward(x, ForwardMode{});
    EXPECT_EQ(eval1.to_vector(), eval2.to_vector()) << "inference is deterministic";

    ForwardMode training;
    training.training = true;
    EXPECT_MENTIONS(error_of([&] { ff.forward(x, training); }), "Generator");
    Generator drop_a(9), drop_b(9);
    training.generator = &drop_a;
    const Tensor a = ff.forward(x, training);
    training.generator = &drop_b;
    const Tensor b = ff.forward(x, training);
    EXPECT_EQ(a.to_vector(), b.to_vector()) << "one seed, one mask";
    EXPECT_GT(relative_error(a, eval1), 1e-3) << "training with p = 0.5 must drop something";

    // A block's residual dropout obeys the same switch.
    BlockConfig c = small_config();
    c.dropout = 0.3f;
    Block block(c, {}, gen);
    const Tensor h = Tensor::randn({2, 3, 16}, gen);
    EXPECT_EQ(block.forward(h).to_vector(), block.forward(h).to_vector());
    Generator drop_c(1);
    ForwardMode train_block;
    train_block.training = true;
    train_block.generator = &drop_c;
    EXPECT_GT(relative_error(block.forward(h, {}, train_block), block.forward(h)), 1e-3);
}

TEST(LayerModules, FeedForwardNames) {
    Generator gen(5);
    FeedForward swiglu(8, 12, Activation::swiglu, false, 0.f, gen);
    EXPECT_EQ(names_of(parameters_of(swiglu, "mlp")),
              (std::vector<std::string>{"mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"}));
    EXPECT_EQ(swiglu.gate.weight.shape(), (Shape{12, 8}));
    EXPECT_EQ(swiglu.down.weight.shape(), (Shape{8, 12}));
    FeedForward two(8, 12, Activation::gelu_tanh, true, 0.f, gen);
    EXPECT_EQ(names_of(parameters_of(two)), (std::vector<std::string>{"linear1.weight", "linear1.bias",
                                                                      "linear2.weight", "linear2.bias"}));
    EXPECT_FALSE(two.gate.weight.defined());
    EXPECT_MENTIONS(error_of([&] { two.forward(Tensor::zeros({2, 9})); }), "(2, 9)");
}

// ---------------------------------------------------------------- positions

TEST(RopePositions, PositionIdsAndTables) {
    EXPECT_EQ(position_ids(2, 3, {}), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
    EXPECT_EQ(position_ids(2, 3, {4, 0}), (std::vector<int64_t>{4, 5, 6, 0, 1, 2}));
    EXPECT_EQ(position_ids(2, 3, {4, 0}, {1, 3}), (std::vector<int64_t>{4, 4, 4, 0, 1, 2}));  // padded rows: the offset
    EXPECT_MENTIONS(error_of([] { position_ids(2, 3, {1}); }), "1 offsets given for a batch of 2");

    // PE(pos, 2i) = sin(pos / 10000^{2i/d}), PE(pos, 2i+1) = cos(...), d = 6.
    const Tensor t = sinusoidal_table(5, 6);
    for (int64_t pos = 0; pos < 5; ++pos)
        for (int64_t i = 0; i < 3; ++i) {
            const double phi = pos / std::pow(10000.0, 2.0 * i / 6.0);
            EXPECT_FLOAT_EQ(t.at({pos, 2 * i}), float(std::sin(phi)));
            EXPECT_FLOAT_EQ(t.at({pos, 2 * i + 1}), float(std::cos(phi)));
        }
    EXPECT_EQ(sinusoidal_table(3, 5).shape(), (Shape{3, 5}));  // odd width: the last column is a sin
    SinusoidalPositions sin_positions(8, 6);
    EXPECT_MENTIONS(error_of([&] { sin_positions.forward(1, 4, {5}); }), "position 8");

    Generator gen(6);
    LearnedPositions learned(8, 4, gen, 0.02f);
    EXPECT_EQ(names_of(parameters_of(learned, "wpe")), (std::vector<std::string>{"wpe.weight"}));
    EXPECT_EQ(learned.forward(2, 2, {0, 6}).shape(), (Shape{2, 2, 4}));
    EXPECT_MENTIONS(error_of([&] { learned.forward(1, 3, {6}); }), "position 8");
}

// RoPE's purpose: ⟨R(m) q, R(n) k⟩ depends on the positions only through m − n.
TEST(RopePositions, ScoresDependOnRelativePositionOnly) {
    Generator gen(7);
    for (RopeLayout layout : {RopeLayout::interleaved, RopeLayout::rotate_half}) {
        const Tensor q = Tensor::randn({1, 1, 1, 16}, gen), k = Tensor::randn({1, 1, 1, 16}, gen);
        auto score = [&](int64_t m, int64_t n) {
            const Tensor a = apply_rope(q, 10000.f, layout, {m}), b = apply_rope(k, 10000.f, layout, {n});
            return sum(mul(a, b)).item();
        };
        EXPECT_NEAR(score(3, 1), score(12, 10), 1e-5);
        EXPECT_NEAR(score(0, 5), score(100, 105), 1e-5);
        EXPECT_GT(std::fabs(score(3, 1) - score(3, 2)), 1e-4) << "and it does depend on m − n";
        // A rotation keeps norms, and position 0 is the identity.
        EXPECT_NEAR(sum(mul(apply_rope(q, 10000.f, layout, {57}), apply_rope(q, 10000.f, layout, {57}))).item(),
                    sum(mul(q, q)).item(), 1e-4);
        EXPECT_EQ(apply_rope(q, 10000.f, layout).to_vector(), q.to_vector());
    }
    // The layouts pair different coordinates: same x, different results.
    const Tensor x = Tensor::randn({1, 1, 2, 8}, gen);
    EXPECT_GT(relative_error(apply_rope(x, 1e4f, RopeLayout::interleaved), apply_rope(x, 1e4f, RopeLayout::rotate_half)),
              1e-3);
    EXPECT_MENTIONS(error_of([&] { apply_rope(Tensor::zeros({1, 1, 2, 7}), 1e4f, RopeLayout::interleaved); }), "even");
    EXPECT_MENTIONS(error_of([&] { apply_rope_at(x, {0}, 1e4f, RopeLayout::interleaved); }), "1 positions");
}

TEST(RopeGradcheck, BothLayoutsWithOffsets) {
    for (RopeLayout layout : {RopeLayout::interleaved, RopeLayout::rotate_half}) {
        Generator gen(8);
        const Tensor x = Tensor::randn({2, 2, 3, 6}, gen);
        const GradcheckResult r = gradcheck(
            [&](const std::vector<Tensor>& in) { return apply_rope(in[0], 100.f, layout, {2, 9}); }, {x});
        EXPECT_TRUE(r.ok()) << r.worst;
    }
}

// ---------------------------------------------------------------- blocks

TEST(BlockModules, ParameterNamesFollowTheConfig) {
    Generator gen(9);
    Block llama(llama_like(), {.causal = true, .cross_attention = false}, gen);
    EXPECT_EQ(names_of(parameters_of(llama, "layers.0")),
              (std::vector<std::string>{"layers.0.self_attn.q_proj.weight", "layers.0.self_attn.k_proj.weight",
                                        "layers.0.self_attn.v_proj.weight", "layers.0.self_attn.out_proj.weight",
                                        "layers.0.self_attn_norm.weight", "layers.0.ff.gate_proj.weight",
                                        "layers.0.ff.up_proj.weight", "layers.0.ff.down_proj.weight",
                                        "layers.0.ff_norm.weight"}));
    EXPECT_EQ(llama.self_attn.k_proj.weight.shape(), (Shape{8, 16}));  // 2 kv heads of 4
    ASSERT_NE(llama.self_attn.rotary(), nullptr);
    EXPECT_EQ(llama.self_attn.rotary()->layout(), RopeLayout::interleaved);

    BlockConfig c = small_config();
    c.norm_placement = NormPlacement::post;
    c.activation = Activation::relu;
    Block decoder(c, {.causal = true, .cross_attention = true}, gen);
    const std::vector<std::string> names = names_of(parameters_of(decoder));
    EXPECT_EQ(names.size(), 8u + 2u + 8u + 2u + 4u + 2u);
    EXPECT_EQ(names[10], "cross_attn.q_proj.weight");
    EXPECT_EQ(names[18], "cross_attn_norm.weight");
    EXPECT_EQ(names.back(), "ff_norm.bias");
    EXPECT_EQ(decoder.self_attn.rotary(), nullptr) << "learned positions live outside the block";
    for (const auto& [name, p] : parameters_of(decoder)) {
        EXPECT_TRUE(p->requires_grad()) << name;
        EXPECT_EQ(p->grad_fn(), nullptr) << name;
    }
}

TEST(BlockModules, ErrorsNameWhatWasWrong) {
    Generator gen(10);
    const BlockConfig c = small_config();
    Block encoder(c, {}, gen);
    BlockArgs with_memory;
    with_memory.memory = Tensor::zeros({2, 3, 16});
    EXPECT_MENTIONS(error_of([&] { encoder.forward(Tensor::zeros({2, 3, 16}), with_memory); }), "memory");
    EXPECT_MENTIONS(error_of([&] { encoder.forward(Tensor::zeros({2, 3, 12})); }), "(2, 3, 12)");
    KVCache cache(2, 2, c.kv_heads(), c.head_dim(), 8);
    BlockArgs with_cache;
    with_cache.cache = &cache;
    EXPECT_MENTIONS(error_of([&] { encoder.forward(Tensor::zeros({2, 1, 16}), with_cache); }), "causal");

    Block decoder(c, {.causal = true, .cross_attention = true}, gen);
    EXPECT_MENTIONS(error_of([&] { decoder.forward(Tensor::zeros({2, 3, 16})); }), "memory must be");
    BlockConfig bad = c;
    bad.n_heads = 0;
    EXPECT_MENTIONS(error_of([&] { Block unused(bad, {}, gen); }), "n_heads=0");
}

namespace {

struct GradcheckSetup {
    const char* name;
    BlockConfig config;
    BlockOptions options;
    bool memory;
};

}  // namespace

TEST(BlockGradcheck, EveryShapeMatchesFiniteDifferences) {
    BlockConfig post = small_config();
    post.d_model = 8, post.n_heads = 2, post.d_ff = 12;
    post.norm_placement = NormPlacement::post;
    BlockConfig pre_tanh = post;
    pre_tanh.norm_placement = NormPlacement::pre;
    pre_tanh.activation = Activation::gelu_tanh;
    BlockConfig llama = llama_like();
    llama.d_model = 8, llama.n_heads = 2, llama.n_kv_heads = 1, llama.d_ff = 12;
    llama.rope_layout = RopeLayout::rotate_half;
    const GradcheckSetup setups[] = {
        {"post-norm encoder", post, {}, false},
        {"pre-norm decoder with cross-attention", pre_tanh, {.causal = true, .cross_attention = true}, true},
        {"post-norm decoder with cross-attention", post, {.causal = true, .cross_attention = true}, true},
        {"llama (RMSNorm, RoPE, MQA, SwiGLU)", llama, {.causal = true, .cross_attention = false}, false},
    };
    for (const GradcheckSetup& s : setups) {
        for (AttentionPath path : {AttentionPath::reference, AttentionPath::fused}) {
            Generator gen(11);
            Block block(s.config, s.options, gen);
            randomise(parameters_of(block), gen);
            std::vector<Tensor> inputs;
            inputs.reserve(64);
            inputs.push_back(Tensor::randn({2, 3, 8}, gen));
            if (s.memory) inputs.push_back(Tensor::randn({2, 4, 8}, gen));
            const size_t first_param = inputs.size();
            for (auto& [name, p] : parameters_of(block)) inputs.push_back(*p);
            auto f = [&](const std::vector<Tensor>& in) {
                Block b = block;  // a copy whose parameters are gradcheck's leaves
                NamedParameters params = parameters_of(b);
                for (size_t i = 0; i < params.size(); ++i) *params[i].second = in[first_param + i];
                BlockArgs args;
                args.self_mask.key_lengths = {3, 2};
                args.position_offsets = {1, 4};
                if (s.memory) {
                    args.memory = in[1];
                    args.memory_mask.key_lengths = {4, 2};
                }
                ForwardMode mode;
                mode.attention_path = path;
                return b.forward(in[0], args, mode);
            };
            const GradcheckResult r = gradcheck(f, inputs);
            EXPECT_TRUE(r.ok()) << s.name << (path == AttentionPath::fused ? " (fused): " : " (reference): ")
                                             << r.worst;
        }
    }
}

// ---------------------------------------------------------------- KV cache

namespace {

// Rows [start[b], start[b] + n[b]) of x (B, T, E), zero-padded to Tq rows: one decoding step's input.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& start, const std::vector<int64_t>& n, int64_t Tq) {
    const int64_t B = x.size(0), T = x.size(1), E = x.size(2);
    Tensor out = Tensor::zeros({B, Tq, E});
    const Tensor xc = x.contiguous();
    for (int64_t b = 0; b < B; ++b)
        if (n[b] > 0) std::memcpy(out.data() + b * Tq * E, xc.data() + (b * T + start[b]) * E, sizeof(float) * n[b] * E);
    return out;
}

// A stack of causal blocks (the decoder part of a model), in one call.
Tensor run_stack(const std::vector<Block>& blocks, const Tensor& x, BlockArgs args, AttentionPath path) {
    ForwardMode mode;
    mode.attention_path = path;
    Tensor h = x;
    for (size_t l = 0; l < blocks.size(); ++l) {
        args.layer = int64_t(l);
        h = blocks[l].forward(h, args, mode);
    }
    return h;
}

struct CacheSetup {
    const char* name;
    BlockConfig config;
    bool cross;
};

// Decodes `x` (B, T, E, sequence b real up to lengths[b]) through `blocks` with a cache, in
// steps of the given schedule (first step: `prefill[b]` tokens each; then `chunk` at a time),
// and checks every real row against the full forward pass.
void check_decoding(const std::vector<Block>& blocks, const BlockConfig& config, const Tensor& x,
                    const std::vector<int64_t>& lengths, const std::vector<int64_t>& prefill, int64_t chunk,
                    const Tensor& memory, const AttentionMask& memory_mask, AttentionPath path, const std::string& what) {
    const int64_t B = x.size(0), T = x.size(1);
    NoGradGuard no_grad;
    BlockArgs full_args;
    full_args.self_mask.key_lengths = lengths;
    full_args.memory = memory;
    full_args.memory_mask = memory_mask;
    const Tensor full = run_stack(blocks, x, full_args, path).contiguous();  // (B, T, E)

    KVCache cache(int64_t(blocks.size()), B, config.kv_heads(), config.head_dim(), T + 3);
    std::vector<int64_t> done(static_cast<size_t>(B), 0);
    double worst = 0;
    int steps = 0;
    for (bool first = true;; first = false) {
        std::vector<int64_t> n(static_cast<size_t>(B));
        int64_t Tq = 0;
        for (int64_t b = 0; b < B; ++b) {
            n[b] = std::min(first ? prefill[b] : chunk, lengths[b] - done[b]);
            Tq = std::max(Tq, n[b]);
        }
        if (Tq == 0) break;
        cache.begin_step(Tq, n);
        EXPECT_EQ(cache.step_offsets(), done);
        BlockArgs args;
        args.cache = &cache;
        args.memory = memory;  // used at the first step only: cross keys/values are cached
        if (!first) args.memory = Tensor();
        args.memory_mask = memory_mask;
        const Tensor y = run_stack(blocks, gather_rows(x, done, n, Tq), args, path).contiguous();  // (B, Tq, E)
        cache.end_step();
        ++steps;
        for (int64_t b = 0; b < B; ++b)
            for (int64_t i = 0; i < n[b]; ++i) {
                const Tensor got = y.slice(0, b, b + 1).slice(1, i, i + 1);
                const Tensor want = full.slice(0, b, b + 1).slice(1, done[b] + i, done[b] + i + 1);
                const double e = relative_error(got.contiguous(), want.contiguous());
                worst = std::max(worst, e);
                EXPECT_LE(e, 1e-5) << what << ": sequence " << b << " position " << done[b] + i;
            }
        for (int64_t b = 0; b < B; ++b) done[b] += n[b];
    }
    EXPECT_EQ(cache.lengths(), lengths);
    std::printf("[ layers   ] kv cache   %-44s %d steps, worst %.2e\n", what.c_str(), steps, worst);
}

}  // namespace

TEST(BlockCache, RaggedBatchDecodingEqualsFullForward) {
    BlockConfig gpt = small_config();  // pre-norm LayerNorm GELU (positions outside the blocks)
    BlockConfig llama = llama_like();  // RMSNorm, RoPE (interleaved), GQA, SwiGLU
    BlockConfig llama_hf = llama;
    llama_hf.rope_layout = RopeLayout::rotate_half;
    llama_hf.n_kv_heads = 1;
    BlockConfig seq2seq = small_config();
    seq2seq.norm_placement = NormPlacement::post;
    seq2seq.activation = Activation::relu;
    const CacheSetup setups[] = {
        {"gpt-2-like", gpt, false},
        {"llama-like (interleaved, GQA)", llama, false},
        {"llama-like (rotate_half, MQA)", llama_hf, false},
        {"post-norm decoder with cross-attention", seq2seq, true},
    };
    const std::vector<int64_t> lengths{7, 4, 2};
    for (const CacheSetup& s : setups) {
        Generator gen(12);
        std::vector<Block> blocks;
        for (int l = 0; l < 2; ++l) blocks.emplace_back(s.config, BlockOptions{.causal = true, .cross_attention = s.cross}, gen);
        for (Block& b : blocks) randomise(parameters_of(b), gen);
        const Tensor x = Tensor::randn({3, 7, 16}, gen);
        Tensor memory;
        AttentionMask memory_mask;
        if (s.cross) {
            memory = Tensor::randn({3, 5, 16}, gen);
            memory_mask.key_lengths = {5, 2, 4};
        }
        for (AttentionPath path : {AttentionPath::fused, AttentionPath::reference}) {
            const std::string p = path == AttentionPath::fused ? " fused" : " reference";
            // Token by token from the start; a ragged prompt then one at a time; ragged prompt then pairs
            // (a step of Tq = 2 while the sequences sit at different offsets).
            check_decoding(blocks, s.config, x, lengths, {1, 1, 1}, 1, memory, memory_mask, path,
                           std::string(s.name) + p + " 1by1");
            check_decoding(blocks, s.config, x, lengths, {3, 4, 1}, 1, memory, memory_mask, path,
                           std::string(s.name) + p + " prompt+1");
            check_decoding(blocks, s.config, x, lengths, {5, 1, 2}, 2, memory, memory_mask, path,
                           std::string(s.name) + p + " prompt+2");
        }
    }
}

TEST(BlockCache, StepProtocolErrors) {
    const BlockConfig c = llama_like();
    KVCache cache(2, 2, c.kv_heads(), c.head_dim(), 4);
    EXPECT_EQ(cache.capacity(), 4);
    EXPECT_EQ(cache.n_kv_heads(), 2);
    EXPECT_EQ(cache.head_dim(), 4);
    EXPECT_MENTIONS(error_of([&] { cache.begin_step(5); }), "capacity of 4");
    EXPECT_MENTIONS(error_of([&] { cache.begin_step(2, {3, 0}); }), "n_new[0] = 3");
    EXPECT_MENTIONS(error_of([&] { cache.end_step(); }), "without a step");
    EXPECT_MENTIONS(error_of([&] { cache.append(0, Tensor::zeros({2, 2, 1, 4}), Tensor::zeros({2, 2, 1, 4})); }),
                    "outside a step");

    Generator gen(13);
    std::vector<Block> blocks;
    for (int l = 0; l < 2; ++l) blocks.emplace_back(c, BlockOptions{.causal = true, .cross_attention = false}, gen);
    cache.begin_step(2, {2, 1});
    EXPECT_MENTIONS(error_of([&] { cache.begin_step(1); }), "already open");
    BlockArgs args;
    args.cache = &cache;
    args.self_mask.key_lengths = {2, 1};
    EXPECT_MENTIONS(error_of([&] { blocks[0].forward(Tensor::zeros({2, 2, 16}), args); }), "comes from the cache");
    args.self_mask = AttentionMask();
    EXPECT_MENTIONS(error_of([&] { blocks[0].forward(Tensor::zeros({2, 3, 16}), args); }), "2 new tokens");
    blocks[0].forward(Tensor::zeros({2, 2, 16}), args);
    EXPECT_MENTIONS(error_of([&] { blocks[0].forward(Tensor::zeros({2, 2, 16}), args); }), "already appended");
    EXPECT_MENTIONS(error_of([&] { cache.end_step(); }), "layer 1 of 2 did not append");
    args.layer = 1;
    blocks[1].forward(Tensor::zeros({2, 2, 16}), args);
    cache.end_step();
    EXPECT_EQ(cache.lengths(), (std::vector<int64_t>{2, 1}));

    // The step mask: per-sequence key lengths, and per-sequence causal alignment when Tq > 1.
    cache.begin_step(2, {1, 2});
    const AttentionMask m = cache.step_mask();
    EXPECT_EQ(m.key_lengths, (std::vector<int64_t>{3, 3}));
    EXPECT_TRUE(m.causal);
    EXPECT_EQ(m.query_offsets, (std::vector<int64_t>{2, 1}));  // sequence 0 at 2, 3; sequence 1 at 1, 2
    EXPECT_FALSE(m.bool_mask.defined());
    args.layer = 0;
    blocks[0].forward(Tensor::zeros({2, 2, 16}), args);
    args.layer = 1;
    blocks[1].forward(Tensor::zeros({2, 2, 16}), args);
    cache.end_step();
    cache.begin_step(1);
    cache.cancel_step();  // a step that threw halfway leaves the lengths alone
    EXPECT_EQ(cache.lengths(), (std::vector<int64_t>{3, 3}));
    cache.reset(1);
    EXPECT_EQ(cache.lengths(), (std::vector<int64_t>{3, 0}));
    cache.reset();
    EXPECT_EQ(cache.lengths(), (std::vector<int64_t>{0, 0}));
}
