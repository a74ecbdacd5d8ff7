// MultiHeadAttention unit tests: configuration and shape errors, torch-like initialisation
// and parameter names, loading torch's packed/separate weights, agreement of the two
// attention paths, and finite-difference gradients of every input and parameter.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "attend/gradcheck.hpp"
#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/nn/multi_head_attention.hpp"
#include "attend/ops.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::error_of;
using attend::testing::close_to;

namespace {


MultiHeadAttentionConfig config_of(int64_t E, int64_t H, int64_t Hkv = 0, int64_t kdim = 0, int64_t vdim = 0) {
    MultiHeadAttentionConfig c;
    c.embed_dim = E, c.n_heads = H, c.n_kv_heads = Hkv, c.kdim = kdim, c.vdim = vdim;
    return c;
}

// Random biases (the constructor zeroes them, which would hide bias bugs).
void randomise_biases(MultiHeadAttention& m, Generator& gen) {
    NoGradGuard no_grad;
    for (auto& [name, p] : parameters_of(m))
        if (p->dim() == 1)
            for (int64_t i = 0; i < p->numel(); ++i) p->data()[i] = gen.uniform(-0.5f, 0.5f);
}

float max_abs(const Tensor& t) {
    float m = 0;
    for (float v : t.to_vector()) m = std::max(m, std::fabs(v));
    return m;
}

}  // namespace

TEST(MultiHeadAttention, ConfigErrorsNameTheNumbers) {
    Generator gen(0);
    std::string m = error_of([&] { MultiHeadAttention unused(config_of(10, 4), gen); });
    EXPECT_MENTIONS(m, "embed_dim=10");
    EXPECT_MENTIONS(m, "n_heads=4");
    m = error_of([&] { MultiHeadAttention unused(config_of(16, 4, 3), gen); });
    EXPECT_MENTIONS(m, "n_heads=4");
    EXPECT_MENTIONS(m, "n_kv_heads=3");
    m = error_of([&] { MultiHeadAttention unused(config_of(16, 0), gen); });
    EXPECT_MENTIONS(m, "n_heads=0");
}

TEST(MultiHeadAttention, InputShapeErrorsNameTheShapes) {
    Generator gen(0);
    MultiHeadAttention mha(config_of(16, 4, 0, 12, 20), gen);
    const Tensor q = Tensor::randn({2, 5, 16}, gen), k = Tensor::randn({2, 6, 12}, gen),
                 v = Tensor::randn({2, 6, 20}, gen);
    EXPECT_EQ(mha.forward(q, k, v).shape(), (Shape{2, 5, 16}));

    std::string m = error_of([&] { mha.forward(Tensor::zeros({2, 5, 12}), k, v); });
    EXPECT_MENTIONS(m, "(2, 5, 12)");
    EXPECT_MENTIONS(m, "E=16");
    m = error_of([&] { mha.forward(q, Tensor::zeros({2, 6, 16}), v); });
    EXPECT_MENTIONS(m, "(2, 6, 16)");
    EXPECT_MENTIONS(m, "kdim=12");
    m = error_of([&] { mha.forward(q, k, Tensor::zeros({2, 6, 12})); });
    EXPECT_MENTIONS(m, "(2, 6, 12)");
    EXPECT_MENTIONS(m, "vdim=20");
    m = error_of([&] { mha.forward(Tensor::zeros({16}), k, v); });
    EXPECT_MENTIONS(m, "(16,)");
    m = error_of([&] { mha.forward(q, Tensor::zeros({3, 6, 12}), Tensor::zeros({3, 6, 20})); });
    EXPECT_MENTIONS(m, "(2, 5, 16)");
    EXPECT_MENTIONS(m, "(3, 6, 12)");
    m = error_of([&] { mha.forward(q, k, Tensor::zeros({2, 7, 20})); });
    EXPECT_MENTIONS(m, "(2, 6, 12)");
    EXPECT_MENTIONS(m, "(2, 7, 20)");
    m = error_of([&] { mha.forward(q); });  // self-attention on a cross-attention module
    EXPECT_MENTIONS(m, "kdim=12");
    EXPECT_MENTIONS(m, "vdim=20");
}

TEST(MultiHeadAttention, InitialisesAsTorchAndNamesParametersAsTorch) {
    Generator gen(3);
    MultiHeadAttention mha(config_of(64, 4), gen);
    std::vector<std::string> names;
    for (auto& [name, p] : parameters_of(mha)) {
        names.push_back(name);
        EXPECT_TRUE(p->requires_grad()) << name;
        EXPECT_EQ(p->grad_fn(), nullptr) << name << " must be a leaf";
    }
    EXPECT_EQ(names, (std::vector<std::string>{"q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias",
                                               "v_proj.weight", "v_proj.bias", "out_proj.weight", "out_proj.bias"}));
    // Packed Xavier bound √(6 / (E + 3E)) on all three in-projections, as torch's (3E, E).
    const float a = std::sqrt(6.f / 256.f);
    for (const Tensor* w : {&mha.q_proj.weight, &mha.k_proj.weight, &mha.v_proj.weight}) {
        EXPECT_EQ(w->shape(), (Shape{64, 64}));
        EXPECT_LE(max_abs(*w), a);
        EXPECT_GT(max_abs(*w), 0.95f * a);  // 4096 draws reach the edge
        const Tensor var = mean(mul(*w, *w));
        EXPECT_NEAR(var.item(), a * a / 3, 0.1 * a * a / 3);  // Var U(−a, a) = a²/3
    }
    EXPECT_LE(max_abs(mha.out_proj.weight), 1.f / 8.f);  // U(−1/√E, 1/√E)
    EXPECT_GT(max_abs(mha.out_proj.weight), 0.95f / 8.f);
    for (const Tensor* b : {&mha.q_proj.bias, &mha.k_proj.bias, &mha.v_proj.bias, &mha.out_proj.bias}) EXPECT_EQ(max_abs(*b), 0.f);

    // Separate widths and grouped heads: each in-projection Xavier on its own fan.
    MultiHeadAttention cross(config_of(64, 4, 2, 48, 80), gen);
    EXPECT_EQ(cross.k_proj.weight.shape(), (Shape{32, 48}));
    EXPECT_EQ(cross.v_proj.weight.shape(), (Shape{32, 80}));
    EXPECT_EQ(cross.k_proj.bias.shape(), (Shape{32}));
    EXPECT_LE(max_abs(cross.q_proj.weight), std::sqrt(6.f / 128.f));
    EXPECT_LE(max_abs(cross.k_proj.weight), std::sqrt(6.f / 80.f));
    EXPECT_GT(max_abs(cross.k_proj.weight), 0.95f * std::sqrt(6.f / 80.f));
    EXPECT_LE(max_abs(cross.v_proj.weight), std::sqrt(6.f / 112.f));
    EXPECT_EQ(cross.config().kdim, 48);

    MultiHeadAttentionConfig no_bias = config_of(16, 2);
    no_bias.bias = false;
    MultiHeadAttention nb(no_bias, gen);
    EXPECT_EQ(parameters_of(nb).size(), 4u);
    EXPECT_FALSE(nb.q_proj.bias.defined());
    EXPECT_EQ(nb.config().n_kv_heads, 2);
    EXPECT_EQ(nb.config().vdim, 16);
}

TEST(MultiHeadAttention, LoadsTorchPackedAndSeparateWeights) {
    Generator gen(1);
    const int64_t E = 8;
    MultiHeadAttention mha(config_of(E, 2), gen);
    const Tensor w_q_handle = mha.q_proj.weight;
    // in_proj_weight[r][c] = r·E + c: rows 0..E-1 are W_q, then W_k, then W_v.
    Tensor in_w = Tensor::arange(3 * E * E).reshape({3 * E, E});
    Tensor in_b = Tensor::arange(3 * E);
    Tensor out_w = Tensor::full({E, E}, 0.5f), out_b = Tensor::full({E}, -1.f);
    mha.load_torch_packed(in_w, in_b, out_w, out_b);
    EXPECT_TRUE(mha.q_proj.weight.is_same(w_q_handle)) << "loading must write into the existing parameter";
    EXPECT_EQ(mha.q_proj.weight.at({0, 0}), 0.f);
    EXPECT_EQ(mha.k_proj.weight.at({0, 1}), float(E * E + 1));
    EXPECT_EQ(mha.v_proj.weight.at({E - 1, E - 1}), float(3 * E * E - 1));
    EXPECT_EQ(mha.k_proj.bias.at({0}), float(E));
    EXPECT_EQ(mha.v_proj.bias.at({E - 1}), float(3 * E - 1));
    EXPECT_EQ(mha.out_proj.weight.at({3, 4}), 0.5f);
    EXPECT_EQ(mha.out_proj.bias.at({2}), -1.f);
    EXPECT_TRUE(mha.q_proj.weight.requires_grad());

    // Wrong shapes are named, and a failed load changes nothing.
    std::string m = error_of([&] { mha.load_torch_packed(Tensor::zeros({3 * E, E + 1}), in_b, out_w, out_b); });
    EXPECT_MENTIONS(m, "in_proj_weight has shape (24, 9), expected (24, 8)");
    m = error_of([&] { mha.load_torch_packed(Tensor::zeros({3 * E, E}), Tensor::zeros({E}), out_w, out_b); });
    EXPECT_MENTIONS(m, "in_proj_bias has shape (8,), expected (24,)");
    m = error_of([&] { mha.load_torch_packed(Tensor::zeros({3 * E, E}), in_b, Tensor::zeros({E, 2}), out_b); });
    EXPECT_MENTIONS(m, "out_proj_weight has shape (8, 2), expected (8, 8)");
    m = error_of([&] { mha.load_torch_packed(Tensor::zeros({3 * E, E}), Tensor(), out_w, out_b); });
    EXPECT_MENTIONS(m, "in_proj_bias is missing");
    EXPECT_EQ(mha.k_proj.weight.at({0, 1}), float(E * E + 1));

    // Separate form (kdim, vdim != E), with grouped heads: (Hkv·Dh, kdim) projections.
    MultiHeadAttention cross(config_of(E, 2, 1, 3, 5), gen);
    m = error_of([&] { cross.load_torch_packed(in_w, in_b, out_w, out_b); });
    EXPECT_MENTIONS(m, "load_torch_separate");
    const Tensor wq = Tensor::full({E, E}, 1.f), wk = Tensor::full({4, 3}, 2.f), wv = Tensor::full({4, 5}, 3.f);
    const Tensor bias = Tensor::arange(E + 8);
    cross.load_torch_separate(wq, wk, wv, bias, out_w, out_b);
    EXPECT_EQ(cross.k_proj.weight.at({3, 2}), 2.f);
    EXPECT_EQ(cross.v_proj.weight.at({0, 4}), 3.f);
    EXPECT_EQ(cross.k_proj.bias.at({0}), float(E));
    EXPECT_EQ(cross.v_proj.bias.at({3}), float(E + 7));
    m = error_of([&] { cross.load_torch_separate(wq, Tensor::zeros({8, 3}), wv, bias, out_w, out_b); });
    EXPECT_MENTIONS(m, "k_proj_weight has shape (8, 3), expected (4, 3)");
    m = error_of([&] { cross.load_torch_separate(wq, wk, wv, Tensor::zeros({3 * E}), out_w, out_b); });
    EXPECT_MENTIONS(m, "in_proj_bias has shape (24,), expected (16,)");
}

TEST(MultiHeadAttention, PathsAgreeAndWeightsAreRowDistributions) {
    Generator gen(5);
    MultiHeadAttention mha(config_of(32, 4, 2), gen);
    randomise_biases(mha, gen);
    const Tensor x = Tensor::randn({2, 9, 32}, gen);
    AttentionMask mask;
    mask.causal = true;
    mask.key_lengths = {9, 4};
    Tensor weights;
    const Tensor fused = mha.forward(x, mask, {.attention_path = AttentionPath::fused});
    const Tensor ref = mha.forward(x, mask, {.attention_path = AttentionPath::reference});
    const Tensor with_weights = mha.forward(x, mask, {}, &weights);  // selects reference
    EXPECT_TRUE(close_to(fused, ref, 1e-5, "fused vs reference"));
    EXPECT_TRUE(close_to(with_weights, ref, 1e-6, "output when weights are asked for"));
    EXPECT_TRUE(close_to(mha.forward(x, x, x, mask), fused, 0, "self overload vs forward(x, x, x)"));
    ASSERT_EQ(weights.shape(), (Shape{2, 4, 9, 9}));
    for (int64_t b = 0; b < 2; ++b)
        for (int64_t h = 0; h < 4; ++h)
            for (int64_t i = 0; i < 9; ++i) {
                double row = 0;
                for (int64_t j = 0; j < 9; ++j) {
                    const float p = weights.at({b, h, i, j});
                    if (j > i || j >= mask.key_lengths[b]) {
                        EXPECT_EQ(p, 0.f) << "masked weight (" << b << ", " << h << ", " << i << ", " << j << ")";
                    }
                    row += p;
                }
                EXPECT_NEAR(row, 1.0, 1e-5);
            }
}

// d(Σ out ⊙ P)/d(every input and parameter) against central differences, on both paths.
TEST(MultiHeadAttention, GradcheckEveryInputAndParameter) {
    struct Setup {
        MultiHeadAttentionConfig config;
        int64_t Tq, Tk;
        AttentionMask mask;
    };
    AttentionMask causal;
    causal.causal = true;
    AttentionMask padded;
    padded.key_lengths = {4, 2};
    const Setup setups[] = {
        {config_of(8, 2, 1, 6, 5), 3, 4, causal},  // cross-attention, multi-query, causal with Tq < Tk
        {config_of(8, 2), 4, 4, padded},           // self-shaped, key padding
    };
    for (const Setup& s : setups) {
        for (AttentionPath path : {AttentionPath::reference, AttentionPath::fused}) {
            Generator gen(11);
            MultiHeadAttention mha(s.config, gen);
            randomise_biases(mha, gen);
            const auto& c = mha.config();
            std::vector<Tensor> inputs{Tensor::randn({2, s.Tq, c.embed_dim}, gen), Tensor::randn({2, s.Tk, c.kdim}, gen),
                                       Tensor::randn({2, s.Tk, c.vdim}, gen)};
            for (auto& [name, p] : parameters_of(mha)) inputs.push_back(*p);
            auto f = [&](const std::vector<Tensor>& in) {
                MultiHeadAttention m = mha;  // a copy whose parameters are gradcheck's leaves
                const NamedParameters params = parameters_of(m);
                for (size_t i = 0; i < params.size(); ++i) *params[i].second = in[3 + i];
                return m.forward(in[0], in[1], in[2], s.mask, {.attention_path = path});
            };
            const GradcheckResult r = gradcheck(f, inputs);
            EXPECT_TRUE(r.ok()) << (path == AttentionPath::fused ? "fused: " : "reference: ") << r.worst;
        }
    }
}
