// Dropout on the attention weights (src/attention/dropout.hpp): both paths against PyTorch
// given the same keep-mask (tests/reference/attention_dropout.py), the fused path's gradient
// against finite differences, the share of weights kept, and the seed's role.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attend/gradcheck.hpp"
#include "attend/attention.hpp"
#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/random.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::close_to;

namespace {

struct Case {
    Tensor q, k, v, dout;
    AttentionMask mask;
    AttentionOptions options;
};

// "case03." — the names of case 3's tensors in the reference file start with it.
std::string case_prefix(int n) {
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "case%02d.", n);
    return prefix;
}

Case load_case(const std::map<std::string, Tensor>& ref, int n) {
    const std::string prefix = case_prefix(n);
    const auto at = [&](const std::string& name) { return ref.at(prefix + name); };
    const Tensor params = at("params");  // B, H, Hkv, Tq, Tk, D, window, causal, p, seed
    const float* pp = params.data();
    Case c{at("q"), at("k"), at("v"), at("dout"), {}, {}};
    c.mask.window = int64_t(pp[6]);
    c.mask.causal = pp[7] != 0.f;
    if (ref.count(prefix + "key_lengths")) {
        const Tensor lengths = at("key_lengths");
        for (int64_t b = 0; b < lengths.numel(); ++b) c.mask.key_lengths.push_back(int64_t(lengths.data()[b]));
    }
    c.options.dropout = pp[8];
    c.options.dropout_seed = uint64_t(pp[9]);
    return c;
}

struct Result {
    Tensor out, dq, dk, dv;
};

Result run(const Case& c, AttentionPath path) {
    const Tensor q = c.q.clone().requires_grad_(), k = c.k.clone().requires_grad_(), v = c.v.clone().requires_grad_();
    AttentionOptions options = c.options;
    options.path = path;
    Tensor out = attention(q, k, v, c.mask, options).output;
    out.backward(c.dout);
    return {out.detach(), q.grad(), k.grad(), v.grad()};
}

TEST(AttentionDropout, BothPathsMatchPyTorchGivenTheSameMask) {
    const auto ref = attend::testing::load_reference("attention_dropout");
    int cases = 0;
    for (int n = 0; ref.count(case_prefix(n) + "q"); ++n, ++cases) {
        const Case c = load_case(ref, n);
        const std::string p = case_prefix(n);
        for (AttentionPath path : {AttentionPath::fused, AttentionPath::reference}) {
            const Result r = run(c, path);
            const std::string what = p + (path == AttentionPath::fused ? "fused" : "reference");
            EXPECT_TRUE(close_to(r.out, ref.at(p + "out"), 1e-5, what + " out"));
            EXPECT_TRUE(close_to(r.dq, ref.at(p + "dq"), 1e-5, what + " dq"));
            EXPECT_TRUE(close_to(r.dk, ref.at(p + "dk"), 1e-5, what + " dk"));
            EXPECT_TRUE(close_to(r.dv, ref.at(p + "dv"), 1e-5, what + " dv"));
        }
        // The hash keeps each visible weight with probability 1 − p.
        EXPECT_NEAR(ref.at(p + "kept").data()[0], 1.0 - c.options.dropout, 0.02) << p;
    }
    EXPECT_EQ(cases, 5);
}

TEST(AttentionDropout, KeepsOneMinusPAndScalesSoTheMeanIsUnchanged) {
    // q = 0: every weight of a row is 1/Tk; v = 1: each output is Σ_j P̃_ij = (kept in row i) / (Tk (1 − p)).
    const int64_t B = 2, H = 3, T = 300;
    const Tensor q = Tensor::zeros({B, H, T, 8}), k = Tensor::zeros({B, H, T, 8}), v = Tensor::ones({B, H, T, 1});
    for (float p : {0.1f, 0.5f}) {
        AttentionOptions o;
        o.dropout = p;
        o.dropout_seed = 17;
        const Tensor out = attention(q, k, v, {}, o).output;  // (B, H, T, 1)
        double mean = 0;
        for (int64_t i = 0; i < out.numel(); ++i) mean += out.data()[i];
        mean /= double(out.numel());
        EXPECT_NEAR(mean, 1.0, 0.01) << "p = " << p;  // 540 000 weights: the standard error is ~0.002
    }
}

TEST(AttentionDropout, TheSeedDecidesAndZeroIsOff) {
    Generator gen(3);
    const Tensor q = Tensor::randn({1, 2, 40, 16}, gen), k = Tensor::randn({1, 2, 40, 16}, gen),
                 v = Tensor::randn({1, 2, 40, 16}, gen);
    AttentionMask causal;
    causal.causal = true;
    AttentionOptions o;
    const Tensor plain = attention(q, k, v, causal, o).output;
    o.dropout = 0.f, o.dropout_seed = 99;  // p = 0: the seed does nothing
    EXPECT_EQ(attention(q, k, v, causal, o).output.to_vector(), plain.to_vector());
    o.dropout = 0.3f, o.dropout_seed = 1;
    const Tensor a = attention(q, k, v, causal, o).output, again = attention(q, k, v, causal, o).output;
    o.dropout_seed = 2;
    const Tensor other = attention(q, k, v, causal, o).output;
    EXPECT_EQ(a.to_vector(), again.to_vector());
    EXPECT_NE(a.to_vector(), other.to_vector());
    EXPECT_NE(a.to_vector(), plain.to_vector());
    o.dropout = 1.f;
    EXPECT_THROW(attention(q, k, v, causal, o), Error);
}

TEST(AttentionDropout, FusedGradientMatchesFiniteDifferences) {
    Generator gen(21);
    const int64_t B = 1, H = 2, Hkv = 1, Tq = 5, Tk = 6, D = 3;
    AttentionMask mask;
    mask.causal = true;
    AttentionOptions o;
    o.dropout = 0.4f;
    o.dropout_seed = 8;
    const auto f = [&](const std::vector<Tensor>& in) { return attention(in[0], in[1], in[2], mask, o).output; };
    const auto r = gradcheck(f, {Tensor::randn({B, H, Tq, D}, gen), Tensor::randn({B, Hkv, Tk, D}, gen),
                                 Tensor::randn({B, Hkv, Tk, D}, gen)},
                             1e-2f);
    EXPECT_TRUE(r.ok()) << r.worst;
}

}  // namespace
