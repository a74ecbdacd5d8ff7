// The config and the model built from it: presets with their published parameter counts
// (counted from shapes, so the 7B preset allocates nothing), validation errors that name the
// field, the parameter count agreeing with the modules actually built, each family's
// initialisation, the heads' shapes, and padding that does not leak into real tokens.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/models/transformer.hpp"
#include "attend/ops.hpp"
#include "support/reference.hpp"

using namespace attend;

namespace {

// ---- presets ----------------------------------------------------------------------------

TEST(ModelPresets, ValidateAndHaveThePublishedParameterCounts) {
    for (const std::string& name : preset_names()) {
        const TransformerConfig c = preset(name);
        EXPECT_EQ(c.name, name);
        EXPECT_NO_THROW(c.validate()) << name;
    }
    // GPT-2 small/medium as Hugging Face counts them (the LM head is the tied wte).
    EXPECT_EQ(parameter_count(gpt2_small()), 124'439'808);
    EXPECT_EQ(parameter_count(gpt2_medium()), 354'823'168);
    // Llama 2 7B: untied head, no biases.
    EXPECT_EQ(parameter_count(llama2_7b()), 6'738'415'616);
    // BERT-base: BertForMaskedLM (no pooler; transform + tied decoder + bias) ...
    EXPECT_EQ(parameter_count(bert_base()), 109'514'298);
    // ... and BertForSequenceClassification with 2 labels, which is BertModel (pooler
    // included, 109,482,240) plus the 768·2 + 2 classifier.
    TransformerConfig cls = bert_base();
    cls.head = HeadType::classifier;
    cls.n_classes = 2;
    EXPECT_EQ(parameter_count(cls), 109'483'778);
    EXPECT_EQ(parameter_count(cls) - (768 * 2 + 2), 109'482'240);
    // Transformer-base with one 37000-token matrix shared by both embeddings and the
    // generator: 63.1M (the paper's Table 3 says 65M, counted on its own vocabulary).
    EXPECT_EQ(parameter_count(transformer_base()), 63'082'496);
    const double millions = double(parameter_count(transformer_base())) / 1e6;
    EXPECT_NEAR(millions, 65.0, 2.5);
}

TEST(ModelPresets, PublishedChoices) {
    const auto t = transformer_base();
    EXPECT_EQ(t.shape, ModelShape::encoder_decoder);
    EXPECT_EQ(t.encoder_layers(), 6);
    EXPECT_EQ(t.n_layers, 6);
    EXPECT_EQ(t.norm_placement, NormPlacement::post);
    EXPECT_EQ(t.activation, Activation::relu);
    EXPECT_EQ(t.positions, PositionType::sinusoidal);
    EXPECT_FLOAT_EQ(t.embedding_scale, std::sqrt(512.f));
    EXPECT_FLOAT_EQ(t.dropout, 0.1f);
    EXPECT_EQ(t.init, InitScheme::xavier);

    const auto b = bert_base();
    EXPECT_EQ(b.head, HeadType::mlm);
    EXPECT_TRUE(b.embedding_norm);
    EXPECT_FLOAT_EQ(b.norm_eps, 1e-12f);
    EXPECT_EQ(b.activation, Activation::gelu);
    EXPECT_EQ(b.type_vocab_size, 2);

    const auto g = gpt2_small();
    EXPECT_EQ(g.norm_placement, NormPlacement::pre);
    EXPECT_TRUE(g.final_norm);
    EXPECT_EQ(g.activation, Activation::gelu_tanh);
    EXPECT_TRUE(g.tie_embeddings);
    EXPECT_TRUE(g.init_scale_residual);

    const auto l = llama2_7b();
    EXPECT_EQ(l.norm, NormType::rms_norm);
    EXPECT_EQ(l.activation, Activation::swiglu);
    EXPECT_EQ(l.positions, PositionType::rope);
    EXPECT_EQ(l.rope_layout, RopeLayout::rotate_half);
    EXPECT_FALSE(l.bias);
    EXPECT_FALSE(l.tie_embeddings);
    EXPECT_FLOAT_EQ(l.norm_eps, 1e-5f);
    EXPECT_EQ(l.head_dim(), 128);
}

TEST(ModelPresets, ByName) {
    EXPECT_EQ(preset("gpt2").name, "gpt2_small");
    EXPECT_EQ(preset("gpt2-medium").d_model, 1024);
    EXPECT_EQ(preset("llama2-7b").n_layers, 32);
    try {
        preset("gpt5");
        ADD_FAILURE() << "an unknown preset was accepted";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("gpt5"), std::string::npos) << m;
        EXPECT_NE(m.find("bert_base"), std::string::npos) << m;  // lists the known ones
    }
}

// ---- validation -------------------------------------------------------------------------

TransformerConfig tiny(ModelShape shape = ModelShape::decoder, HeadType head = HeadType::lm) {
    TransformerConfig c;
    c.name = "tiny";
    c.shape = shape, c.head = head;
    c.vocab_size = 23, c.d_model = 16, c.n_layers = 2, c.n_heads = 4, c.d_ff = 24, c.max_positions = 16;
    return c;
}

// validate() throws an Error whose message contains every one of `words`.
void expect_invalid(const TransformerConfig& c, std::initializer_list<const char*> words) {
    try {
        c.validate();
        ADD_FAILURE() << "accepted; expected an error mentioning " << *words.begin();
    } catch (const Error& e) {
        const std::string m = e.what();
        for (const char* w : words) EXPECT_NE(m.find(w), std::string::npos) << "'" << w << "' not in: " << m;
        EXPECT_NE(m.find("'tiny'"), std::string::npos) << "the config's name is missing from: " << m;
    }
}

TEST(ModelConfig, ValidationNamesTheField) {
    EXPECT_NO_THROW(tiny().validate());
    auto c = tiny();
    c.d_model = 18;  // 18 % 4 != 0
    expect_invalid(c, {"d_model=18", "n_heads=4"});
    c = tiny(), c.n_kv_heads = 3;
    expect_invalid(c, {"n_heads=4", "n_kv_heads=3"});
    c = tiny(), c.vocab_size = 0;
    expect_invalid(c, {"vocab_size"});
    c = tiny(), c.n_layers = -1;
    expect_invalid(c, {"n_layers"});
    c = tiny(), c.d_ff = 0;
    expect_invalid(c, {"d_ff"});
    c = tiny(), c.n_heads = 0;
    expect_invalid(c, {"n_heads"});
    c = tiny(), c.max_positions = 0;  // learned positions need a table
    expect_invalid(c, {"max_positions", "learned"});
    c = tiny(), c.positions = PositionType::rope, c.d_model = 12, c.n_heads = 4;  // head_dim 3
    expect_invalid(c, {"RoPE", "head_dim", "even"});
    c = tiny(), c.positions = PositionType::rope, c.rope_theta = 0.f;
    expect_invalid(c, {"rope_theta"});
    c = tiny(), c.dropout = 1.f;
    expect_invalid(c, {"dropout"});
    c = tiny(), c.norm_eps = -1e-5f;
    expect_invalid(c, {"norm_eps"});
    c = tiny(), c.embedding_scale = 0.f;
    expect_invalid(c, {"embedding_scale"});
    c = tiny(), c.n_encoder_layers = 3;
    expect_invalid(c, {"n_encoder_layers", "encoder_decoder"});
    c = tiny(ModelShape::encoder, HeadType::lm);
    expect_invalid(c, {"head=lm", "decoder"});
    c = tiny(ModelShape::decoder, HeadType::mlm);
    expect_invalid(c, {"head=mlm", "encoder"});
    c = tiny(ModelShape::encoder, HeadType::mlm), c.activation = Activation::swiglu;
    expect_invalid(c, {"swiglu"});
    c = tiny(ModelShape::encoder, HeadType::classifier);
    expect_invalid(c, {"n_classes"});
    c = tiny(ModelShape::decoder, HeadType::seq2seq);
    expect_invalid(c, {"seq2seq", "encoder_decoder"});
    c = tiny(), c.init_std = 0.f;
    expect_invalid(c, {"init_std"});
    // The model refuses an invalid config too.
    c = tiny(), c.n_kv_heads = 3;
    EXPECT_THROW(Transformer{c}, Error);
}

// ---- the modules built agree with the count from shapes ----------------------------------

std::vector<TransformerConfig> small_variants() {
    std::vector<TransformerConfig> out;
    auto gpt = tiny();
    gpt.activation = Activation::gelu_tanh, gpt.init_scale_residual = true;
    out.push_back(gpt);
    auto untied = gpt;
    untied.tie_embeddings = false;
    out.push_back(untied);
    auto llama = tiny();
    llama.norm = NormType::rms_norm, llama.activation = Activation::swiglu, llama.positions = PositionType::rope;
    llama.n_kv_heads = 2, llama.bias = false, llama.tie_embeddings = false;
    out.push_back(llama);
    auto bert = tiny(ModelShape::encoder, HeadType::mlm);
    bert.norm_placement = NormPlacement::post, bert.final_norm = false, bert.embedding_norm = true;
    bert.type_vocab_size = 2, bert.activation = Activation::gelu;
    out.push_back(bert);
    auto bert_untied = bert;
    bert_untied.tie_embeddings = false;
    out.push_back(bert_untied);
    auto cls = bert;
    cls.head = HeadType::classifier, cls.n_classes = 5;
    out.push_back(cls);
    auto encoder = bert;
    encoder.head = HeadType::none;
    out.push_back(encoder);
    auto seq2seq = tiny(ModelShape::encoder_decoder, HeadType::seq2seq);
    seq2seq.n_encoder_layers = 3, seq2seq.positions = PositionType::sinusoidal;
    seq2seq.norm_placement = NormPlacement::post, seq2seq.final_norm = false, seq2seq.init = InitScheme::xavier;
    out.push_back(seq2seq);
    auto seq2seq_pre = seq2seq;
    seq2seq_pre.norm_placement = NormPlacement::pre, seq2seq_pre.final_norm = true;
    seq2seq_pre.tie_embeddings = false, seq2seq_pre.init = InitScheme::torch_default;
    out.push_back(seq2seq_pre);
    return out;
}

TEST(ModelConfig, ParameterCountMatchesTheBuiltModel) {
    for (const auto& c : small_variants()) {
        Transformer model(c);
        const NamedParameters params = model.parameters();
        EXPECT_EQ(count_parameters(params), parameter_count(c))
            << name_of(c.shape) << "/" << name_of(c.head) << " tied=" << c.tie_embeddings;
        // Every parameter is a distinct leaf that wants a gradient.
        std::set<const Tensor*> seen;
        for (const auto& [name, p] : params) {
            EXPECT_TRUE(seen.insert(p).second) << name << " listed twice";
            EXPECT_TRUE(p->requires_grad()) << name;
        }
    }
}

TEST(ModelConfig, ParameterNamesAreConsistent) {
    auto c = small_variants()[0];
    Transformer gpt(c);
    std::set<std::string> names;
    for (const auto& [name, p] : gpt.parameters()) names.insert(name);
    for (const char* n : {"embeddings.token.weight", "embeddings.position.weight", "layers.0.self_attn.q_proj.weight",
                          "layers.1.ff.linear2.bias", "layers.1.ff_norm.weight", "norm.weight"})
        EXPECT_TRUE(names.count(n)) << n;
    EXPECT_FALSE(names.count("lm_head.weight"));  // tied

    Transformer seq2seq(small_variants()[7]);
    names.clear();
    for (const auto& [name, p] : seq2seq.parameters()) names.insert(name);
    for (const char* n : {"encoder.layers.2.self_attn.out_proj.weight", "decoder.layers.1.cross_attn.k_proj.bias",
                          "decoder.layers.0.cross_attn_norm.weight"})
        EXPECT_TRUE(names.count(n)) << n;
}

// ---- initialisation ----------------------------------------------------------------------

struct Stats {
    double mean = 0, std = 0, max_abs = 0;
};
Stats stats(const Tensor& t) {
    Stats s;
    const auto v = t.to_vector();
    for (float x : v) s.mean += x, s.max_abs = std::max(s.max_abs, double(std::fabs(x)));
    s.mean /= double(v.size());
    for (float x : v) s.std += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(s.std / double(v.size()));
    return s;
}

TEST(ModelInit, Gpt2NormalWithScaledResidualProjections) {
    auto c = tiny();
    c.vocab_size = 500, c.d_model = 64, c.n_heads = 4, c.d_ff = 256, c.n_layers = 4, c.max_positions = 64;
    c.init = InitScheme::normal, c.init_std = 0.02f, c.init_scale_residual = true;
    Transformer m(c, 1);
    EXPECT_NEAR(stats(m.embeddings.token.weight).std, 0.02, 0.001);
    EXPECT_NEAR(stats(m.embeddings.position.embedding.weight).std, 0.02, 0.002);
    const Block& b = m.decoder.layers[1];
    EXPECT_NEAR(stats(b.self_attn.q_proj.weight).std, 0.02, 0.002);
    EXPECT_NEAR(stats(b.ff.up.weight).std, 0.02, 0.001);
    const double residual = 0.02 / std::sqrt(2.0 * 4);  // 1/√(2·n_layers)
    EXPECT_NEAR(stats(b.self_attn.out_proj.weight).std, residual, residual * 0.1);
    EXPECT_NEAR(stats(b.ff.down.weight).std, residual, residual * 0.1);
    EXPECT_EQ(stats(b.self_attn.q_proj.bias).max_abs, 0.0);
    EXPECT_EQ(stats(b.ff.up.bias).max_abs, 0.0);
    EXPECT_EQ(stats(b.ff_norm.layer_norm.bias).max_abs, 0.0);
    const Stats w = stats(m.decoder.norm.layer_norm.weight);
    EXPECT_EQ(w.mean, 1.0);
    EXPECT_EQ(w.std, 0.0);
}

TEST(ModelInit, BertNormalEverywhere) {
    auto c = tiny(ModelShape::encoder, HeadType::mlm);
    c.vocab_size = 500, c.d_model = 64, c.d_ff = 256, c.type_vocab_size = 2, c.embedding_norm = true;
    c.norm_placement = NormPlacement::post, c.final_norm = false;
    c.init = InitScheme::normal, c.init_std = 0.02f;
    Transformer m(c, 2);
    EXPECT_NEAR(stats(m.embeddings.token.weight).std, 0.02, 0.001);
    EXPECT_NEAR(stats(m.encoder.layers[0].self_attn.out_proj.weight).std, 0.02, 0.002);  // not scaled
    EXPECT_NEAR(stats(m.encoder.layers[0].ff.down.weight).std, 0.02, 0.001);
    EXPECT_NEAR(stats(m.mlm.transform.weight).std, 0.02, 0.002);
    EXPECT_EQ(stats(m.mlm.bias).max_abs, 0.0);
    EXPECT_EQ(stats(m.mlm.transform.bias).max_abs, 0.0);
    EXPECT_EQ(stats(m.embeddings.norm.layer_norm.weight).mean, 1.0);
}

TEST(ModelInit, TransformerXavierUniform) {
    auto c = tiny(ModelShape::encoder_decoder, HeadType::seq2seq);
    c.vocab_size = 300, c.d_model = 64, c.d_ff = 256, c.positions = PositionType::sinusoidal;
    c.init = InitScheme::xavier;
    Transformer m(c, 3);
    auto check = [](const Tensor& w, const char* what) {
        const double a = std::sqrt(6.0 / double(w.size(0) + w.size(1)));
        const Stats s = stats(w);
        EXPECT_LE(s.max_abs, a) << what;
        EXPECT_NEAR(s.std, a / std::sqrt(3.0), a / std::sqrt(3.0) * 0.1) << what;  // U(−a, a) has std a/√3
    };
    check(m.embeddings.token.weight, "embedding");
    check(m.encoder.layers[0].self_attn.q_proj.weight, "encoder w_q");
    check(m.decoder.layers[1].cross_attn->v_proj.weight, "decoder cross w_v");
    check(m.decoder.layers[1].ff.up.weight, "decoder linear1");
    check(m.decoder.layers[1].ff.down.weight, "decoder linear2");
}

TEST(ModelInit, SameSeedSameModel) {
    auto c = small_variants()[2];
    Transformer a(c, 42), b(c, 42), d(c, 43);
    const auto pa = a.parameters(), pb = b.parameters(), pd = d.parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i].second->to_vector(), pb[i].second->to_vector());
    EXPECT_NE(pa[0].second->to_vector(), pd[0].second->to_vector());
}

// A model built for a checkpoint (ParameterInit::uninitialised) has every parameter a seeded
// one has — names, shapes, leaves wanting gradients — without a Generator to draw from and
// without memory behind its matrices; and
// building through a Generator lvalue is the seeded build, draw for draw.
TEST(ModelInit, UninitialisedHasTheShapesAndNoGenerator) {
    EXPECT_FALSE(ParameterInit::uninitialised().draws());
    EXPECT_THROW(ParameterInit::uninitialised().generator(), Error);
    for (const auto& c : small_variants()) {
        Transformer seeded(c, 5), blank(c, ParameterInit::uninitialised());
        const auto ps = seeded.parameters(), pb = blank.parameters();
        ASSERT_EQ(ps.size(), pb.size()) << name_of(c.shape) << "/" << name_of(c.head);
        for (size_t i = 0; i < ps.size(); ++i) {
            EXPECT_EQ(ps[i].first, pb[i].first);
            EXPECT_EQ(ps[i].second->shape(), pb[i].second->shape()) << pb[i].first;
            EXPECT_TRUE(pb[i].second->requires_grad()) << pb[i].first;
            EXPECT_EQ(pb[i].second->grad_fn(), nullptr) << pb[i].first;
            // Matrices and embeddings have no memory at all until a loader adopts a tensor.
            if (pb[i].second->dim() == 2) {
                try {
                    (void)pb[i].second->data();
                    ADD_FAILURE() << pb[i].first << " of a model built uninitialised has values";
                } catch (const Error& e) {
                    EXPECT_NE(std::string(e.what()).find("has a shape and no values"), std::string::npos) << e.what();
                }
            }
        }
        Generator gen(5), after(5);
        Transformer drawn(c, gen);
        const auto pd = drawn.parameters();
        for (size_t i = 0; i < ps.size(); ++i)
            EXPECT_EQ(ps[i].second->to_vector(), pd[i].second->to_vector()) << pd[i].first;
        EXPECT_NE(gen.state(), after.state());  // the build drew from the caller's generator
    }
}

// ---- forward shapes and padding ----------------------------------------------------------

TokenBatch make_tokens(int64_t B, int64_t T, int64_t vocab, uint64_t seed, std::vector<int64_t> lengths = {}) {
    Generator gen(seed);
    TokenBatch t;
    t.shape = {B, T};
    for (int64_t i = 0; i < B * T; ++i) t.ids.push_back(int64_t(gen.next_u64() % uint64_t(vocab)));
    t.lengths = std::move(lengths);
    return t;
}

TEST(Model, HeadsHaveTheirShapes) {
    const auto variants = small_variants();
    const TokenBatch x = make_tokens(2, 5, 23, 1);
    EXPECT_EQ(Transformer(variants[0]).forward(x).shape(), Shape({2, 5, 23}));  // lm
    EXPECT_EQ(Transformer(variants[3]).forward(x).shape(), Shape({2, 5, 23}));  // mlm
    EXPECT_EQ(Transformer(variants[5]).forward(x).shape(), Shape({2, 5}));      // classifier, 5 classes
    EXPECT_EQ(Transformer(variants[6]).forward(x).shape(), Shape({2, 5, 16}));  // none: hidden states
    const Transformer seq2seq(variants[7]);
    EXPECT_EQ(seq2seq.forward(make_tokens(2, 7, 23, 2), x).shape(), Shape({2, 5, 23}));
    EXPECT_EQ(seq2seq.encode(make_tokens(2, 7, 23, 2)).shape(), Shape({2, 7, 16}));
    EXPECT_THROW(seq2seq.forward(x), Error);                 // needs a source and a target
    EXPECT_THROW(Transformer(variants[0]).encode(x), Error);  // a decoder has no encoder
    TokenBatch bad = x;
    bad.ids.pop_back();
    EXPECT_THROW(Transformer(variants[0]).forward(bad), Error);
    bad = x, bad.lengths = {6, 1};
    EXPECT_THROW(Transformer(variants[0]).forward(bad), Error);
    bad = x, bad.ids[3] = 23;
    EXPECT_THROW(Transformer(variants[0]).forward(bad), Error);  // id outside the vocabulary
}

// A padded sequence's real positions see nothing of the padding: their outputs equal those of
// the sequence run alone, whatever the pad ids are.
TEST(Model, PaddingDoesNotLeak) {
    for (const size_t v : {size_t(0), size_t(2), size_t(3)}) {  // decoder LN, decoder RoPE/GQA, BERT encoder
        const Transformer model(small_variants()[v], 5);
        TokenBatch padded = make_tokens(2, 9, 23, 3, {9, 5});
        TokenBatch alone;
        alone.shape = {1, 5};
        alone.ids.assign(padded.ids.begin() + 9, padded.ids.begin() + 14);
        const Tensor a = model.forward(padded), b = model.forward(alone);
        for (int64_t t = 9 + 5; t < 18; ++t) padded.ids[t] = (padded.ids[t] + 7) % 23;  // other pad ids
        const Tensor c = model.forward(padded);
        const Tensor real_a = a.slice(0, 1, 2).slice(1, 0, 5).contiguous();
        const Tensor real_c = c.slice(0, 1, 2).slice(1, 0, 5).contiguous();
        EXPECT_LE(attend::testing::relative_error(real_a, b), 1e-5) << v;
        EXPECT_EQ(real_a.to_vector(), real_c.to_vector()) << v;
    }
}

TEST(Model, NextTokenTargetsAndLoss) {
    TokenBatch t;
    t.shape = {2, 4};
    t.ids = {5, 6, 7, 8, 1, 2, 0, 0};
    t.lengths = {4, 2};
    EXPECT_EQ(next_token_targets(t), (std::vector<int64_t>{6, 7, 8, -100, 2, -100, -100, -100}));
    // loss = the mean cross-entropy of the non-ignored rows, with gradient into the model.
    auto c = small_variants()[0];
    Transformer model(c, 4);
    TokenBatch x = make_tokens(2, 6, 23, 5, {6, 3});
    const Tensor logits = model.forward(x);
    const Tensor loss = Transformer::loss(logits, next_token_targets(x));
    EXPECT_EQ(loss.numel(), 1);
    EXPECT_GT(loss.item(), 0.f);
    loss.backward();
    EXPECT_TRUE(model.embeddings.token.weight.grad().defined());
    EXPECT_THROW(Transformer::loss(logits, {1, 2, 3}), Error);
}

TEST(Model, DropoutOnlyInTraining) {
    auto c = small_variants()[0];
    c.dropout = 0.3f;
    const Transformer model(c, 6);
    const TokenBatch x = make_tokens(2, 5, 23, 7);
    const Tensor eval1 = model.forward(x), eval2 = model.forward(x);
    EXPECT_EQ(eval1.to_vector(), eval2.to_vector());
    Generator g1(1), g2(1);
    ForwardMode train;
    train.training = true;
    train.generator = &g1;
    const Tensor t1 = model.forward(x, train);
    train.generator = &g2;
    const Tensor t2 = model.forward(x, train);
    EXPECT_EQ(t1.to_vector(), t2.to_vector());    // same stream, same masks
    EXPECT_NE(t1.to_vector(), eval1.to_vector());  // dropout acted
    train.generator = nullptr;
    EXPECT_THROW(model.forward(x, train), Error);  // training with p > 0 needs a generator
}

}  // namespace

namespace {

// Attention-weight dropout (config.attention_dropout) follows the same rule as the other
// dropouts: off in inference, the same masks from the same stream in training — in the
// decoder, the encoder and the seq2seq model's self- and cross-attention.
TEST(Model, AttentionDropoutOnlyInTraining) {
    for (auto c : small_variants()) {
        c.dropout = 0.f;
        c.attention_dropout = 0.3f;
        const Transformer model(c, 6), no_dropout([&] {
            auto plain = c;
            plain.attention_dropout = 0.f;
            return plain;
        }(), 6);
        const TokenBatch x = make_tokens(2, 5, 23, 7);
        const bool seq2seq = c.shape == ModelShape::encoder_decoder;
        const auto run = [&](const Transformer& m, const ForwardMode& mode) {
            return seq2seq ? m.forward(x, x, mode) : m.forward(x, mode);
        };
        const std::string what = std::string(name_of(c.shape)) + "/" + name_of(c.head);
        EXPECT_EQ(run(model, {}).to_vector(), run(no_dropout, {}).to_vector()) << what;  // inference: no effect
        Generator g1(1), g2(1);
        ForwardMode train;
        train.training = true;
        train.generator = &g1;
        const Tensor t1 = run(model, train);
        train.generator = &g2;
        const Tensor t2 = run(model, train);
        EXPECT_EQ(t1.to_vector(), t2.to_vector()) << what;                  // same stream, same masks
        EXPECT_NE(t1.to_vector(), run(model, {}).to_vector()) << what;     // dropout acted
        train.generator = nullptr;
        EXPECT_THROW(run(model, train), Error) << what;
    }
}

}  // namespace
