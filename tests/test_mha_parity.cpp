// MultiHeadAttention held to PyTorch (tests/reference/mha.py): torch.nn.MultiheadAttention,
// and a hand-written grouped-query module, computed in float64 on the weights we load.
// Each case runs on both attention paths and compares the output (1e-5 relative to its
// scale), the per-head weights where torch returned them, and the gradients of the inputs
// and of every parameter (1e-4).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "attend/nn/multi_head_attention.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::close_to;
using attend::testing::relative_error;

namespace {

struct MhaCase {
    const char* name;
    int64_t n_heads, n_kv_heads;
    bool causal;
};

// Shapes, widths, biases, key padding and additive masks are read from the file; what the
// file cannot say (head counts, the causal flag) is stated here and must agree with mha.py.
const MhaCase kCases[] = {
    {"self", 4, 4, false},           {"causal", 8, 8, true},        {"padding", 4, 4, false},
    {"cross", 4, 4, false},          {"cross_padding", 8, 8, false}, {"additive", 4, 4, false},
    {"additive_per_head", 4, 4, false}, {"weights", 4, 4, true},   {"weights_cross", 8, 8, false},
    {"no_bias", 4, 4, true},         {"gqa1", 4, 1, true},          {"gqa2", 4, 2, false},
    {"gqa2_self", 4, 2, false},
};

const std::map<std::string, Tensor>& reference() {
    static const std::map<std::string, Tensor> tensors = attend::testing::load_reference("mha");
    return tensors;
}

struct Param {
    MhaCase c;
    AttentionPath path;
};

void PrintTo(const Param& p, std::ostream* os) {
    *os << p.c.name << (p.path == AttentionPath::fused ? " (fused)" : " (reference)");
}

class MhaParity : public ::testing::TestWithParam<Param> {
protected:
    bool has(const std::string& key) const { return reference().count(prefix_ + key) > 0; }
    Tensor get(const std::string& key) const {
        auto it = reference().find(prefix_ + key);
        if (it == reference().end()) {
            ADD_FAILURE() << "mha.safetensors has no " << prefix_ + key;
            return Tensor();
        }
        return it->second;
    }
    // A fresh leaf holding the file's values.
    Tensor input(const std::string& key) const {
        Tensor t = get(key).clone();
        t.requires_grad_(true);
        return t;
    }
    void SetUp() override { prefix_ = std::string(GetParam().c.name) + "."; }

    // Compare and remember the worst error of the kind.
    void expect_close(const Tensor& actual, const Tensor& expected, double tol, const std::string& what,
                      double& worst, std::string& worst_what) {
        EXPECT_TRUE(close_to(actual, expected, tol, prefix_ + what));
        if (actual.defined() && expected.defined() && actual.shape() == expected.shape()) {
            const double e = relative_error(actual, expected);
            if (e >= worst) worst = e, worst_what = what;
        }
    }

    std::string prefix_;
};

TEST_P(MhaParity, MatchesTorch) {
    const MhaCase& c = GetParam().c;
    const AttentionPath path = GetParam().path;
    ASSERT_TRUE(has("out")) << "case " << c.name << " missing from mha.safetensors";
    const bool self = has("x");

    // ---- the inputs ----
    Tensor x, query, key, value;
    if (self) {
        x = input("x");
        query = key = value = x;
    } else {
        query = input("query"), key = input("key"), value = input("value");
    }
    const int64_t B = query.size(0), Tq = query.size(1), E = query.size(2), Tk = key.size(1);

    MultiHeadAttentionConfig config;
    config.embed_dim = E;
    config.n_heads = c.n_heads;
    config.n_kv_heads = c.n_kv_heads;
    config.kdim = key.size(2);
    config.vdim = value.size(2);
    config.bias = has("in_proj_bias");
    Generator gen(0);
    MultiHeadAttention mha(config, gen);
    const Tensor in_bias = config.bias ? get("in_proj_bias") : Tensor();
    const Tensor out_bias = config.bias ? get("out_proj.bias") : Tensor();
    const bool packed = has("in_proj_weight");
    if (packed)
        mha.load_torch_packed(get("in_proj_weight"), in_bias, get("out_proj.weight"), out_bias);
    else
        mha.load_torch_separate(get("q_proj_weight"), get("k_proj_weight"), get("v_proj_weight"), in_bias,
                                get("out_proj.weight"), out_bias);

    AttentionMask mask;
    mask.causal = c.causal;
    if (has("key_lengths"))
        for (float n : get("key_lengths").to_vector()) mask.key_lengths.push_back(int64_t(n));
    if (has("attn_mask")) {
        Tensor m = get("attn_mask");  // torch: (Tq, Tk) or (B·H, Tq, Tk), batch-major
        mask.additive_mask = m.dim() == 3 ? m.reshape({B, c.n_heads, Tq, Tk}) : m;
    }

    // ---- forward and backward ----
    const bool want_weights = has("weights") && path == AttentionPath::reference;
    Tensor weights;
    const ForwardMode mode{.attention_path = path};
    Tensor out = self ? mha.forward(x, mask, mode, want_weights ? &weights : nullptr)
                      : mha.forward(query, key, value, mask, mode, want_weights ? &weights : nullptr);
    out.backward(get("probe"));

    double fwd = 0, grad = 0, w = 0;
    std::string fwd_what, grad_what, w_what;
    expect_close(out, get("out"), 1e-5, "out", fwd, fwd_what);
    if (want_weights) expect_close(weights, get("weights"), 1e-5, "weights", w, w_what);

    if (self) {
        expect_close(x.grad(), get("grad.x"), 1e-4, "grad.x", grad, grad_what);
    } else {
        expect_close(query.grad(), get("grad.query"), 1e-4, "grad.query", grad, grad_what);
        expect_close(key.grad(), get("grad.key"), 1e-4, "grad.key", grad, grad_what);
        expect_close(value.grad(), get("grad.value"), 1e-4, "grad.value", grad, grad_what);
    }
    const int64_t kv = mha.k_proj.weight.size(0);
    if (packed) {
        const Tensor g = get("grad.in_proj_weight");  // [dW_q; dW_k; dW_v]
        expect_close(mha.q_proj.weight.grad(), g.slice(0, 0, E), 1e-4, "grad.in_proj_weight[q]", grad, grad_what);
        expect_close(mha.k_proj.weight.grad(), g.slice(0, E, E + kv), 1e-4, "grad.in_proj_weight[k]", grad, grad_what);
        expect_close(mha.v_proj.weight.grad(), g.slice(0, E + kv, E + 2 * kv), 1e-4, "grad.in_proj_weight[v]", grad,
                     grad_what);
    } else {
        expect_close(mha.q_proj.weight.grad(), get("grad.q_proj_weight"), 1e-4, "grad.q_proj_weight", grad, grad_what);
        expect_close(mha.k_proj.weight.grad(), get("grad.k_proj_weight"), 1e-4, "grad.k_proj_weight", grad, grad_what);
        expect_close(mha.v_proj.weight.grad(), get("grad.v_proj_weight"), 1e-4, "grad.v_proj_weight", grad, grad_what);
    }
    expect_close(mha.out_proj.weight.grad(), get("grad.out_proj.weight"), 1e-4, "grad.out_proj.weight", grad, grad_what);
    if (config.bias) {
        const Tensor g = get("grad.in_proj_bias");
        expect_close(mha.q_proj.bias.grad(), g.slice(0, 0, E), 1e-4, "grad.in_proj_bias[q]", grad, grad_what);
        // dL/db_k is zero in exact arithmetic: b_k adds q_i·b_k to every score of row i, which
        // softmax ignores. What both libraries compute is rounding noise, so it is measured
        // against the scale of the whole in_proj_bias gradient instead of its own.
        double bias_scale = 0;
        for (float value : g.to_vector()) bias_scale = std::max(bias_scale, double(std::fabs(value)));
        const double bk = relative_error(mha.k_proj.bias.grad(), g.slice(0, E, E + kv), bias_scale);
        EXPECT_LE(bk, 1e-4) << prefix_ << "grad.in_proj_bias[k], relative to the in_proj_bias gradient's scale";
        if (bk >= grad) grad = bk, grad_what = "grad.in_proj_bias[k]";
        expect_close(mha.v_proj.bias.grad(), g.slice(0, E + kv, E + 2 * kv), 1e-4, "grad.in_proj_bias[v]", grad,
                     grad_what);
        expect_close(mha.out_proj.bias.grad(), get("grad.out_proj.bias"), 1e-4, "grad.out_proj.bias", grad, grad_what);
    } else {
        EXPECT_EQ(parameters_of(mha).size(), 4u);  // weights only
    }

    char weights_note[32] = "";
    if (want_weights) std::snprintf(weights_note, sizeof weights_note, "  weights %.2e", w);
    std::printf("[ mha      ] %-18s %-9s out %.2e%s  worst grad %.2e (%s)\n", c.name,
                path == AttentionPath::fused ? "fused" : "reference", fwd, weights_note, grad, grad_what.c_str());
}

std::vector<Param> all_params() {
    std::vector<Param> out;
    for (const MhaCase& c : kCases)
        for (AttentionPath p : {AttentionPath::reference, AttentionPath::fused}) out.push_back({c, p});
    return out;
}

INSTANTIATE_TEST_SUITE_P(Torch, MhaParity, ::testing::ValuesIn(all_params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                             return std::string(info.param.c.name) +
                                    (info.param.path == AttentionPath::fused ? "_fused" : "_reference");
                         });

}  // namespace
