// Attention: the seeds' worked example by hand, every mask against a naive loop, the defined
// edge cases (fully masked rows, huge scores, T = 1, a query block at the end of a KV cache),
// shape errors, and finite-difference gradient checks. PyTorch parity is in
// test_attention_parity.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "attend/gradcheck.hpp"
#include "attend/attention.hpp"
#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/random.hpp"

using namespace attend;

namespace {

const AttentionPath kPaths[] = {AttentionPath::reference, AttentionPath::fused};
const char* path_name(AttentionPath p) { return p == AttentionPath::reference ? "reference" : "fused"; }

double max_abs_diff(const Tensor& a, const std::vector<double>& b) {
    const std::vector<float> av = a.to_vector();
    EXPECT_EQ(av.size(), b.size());
    double m = 0;
    for (size_t i = 0; i < av.size() && i < b.size(); ++i) {
        const double d = std::fabs(av[i] - b[i]);
        m = std::isnan(d) ? INFINITY : std::max(m, d);
    }
    return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    const std::vector<float> bv = b.to_vector();
    return max_abs_diff(a, std::vector<double>(bv.begin(), bv.end()));
}

bool all_finite(const Tensor& t) {
    for (float x : t.to_vector())
        if (!std::isfinite(x)) return false;
    return true;
}

// Element (b, h, i, j) of a mask broadcast to (B, H, Tq, Tk), read without MaskPlan.
float broadcast_at(const Tensor& m, int64_t b, int64_t h, int64_t i, int64_t j) {
    const int64_t idx[4] = {b, h, i, j};
    const int64_t pad = 4 - m.dim();
    int64_t flat = 0;
    for (int64_t d = pad; d < 4; ++d) flat = flat * m.size(d - pad) + (m.size(d - pad) == 1 ? 0 : idx[d]);
    return m.contiguous().data()[flat];
}

// Attention written as the definition, in double: visible keys by the mask's own rules,
// softmax over them, a row with none visible is zero.
struct Naive {
    std::vector<double> out;      // (B, H, Tq, Dv)
    std::vector<double> weights;  // (B, H, Tq, Tk)
};
Naive naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& m, double scale) {
    const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3);
    const int64_t Hkv = k.size(1), Tk = k.size(2), Dv = v.size(3);
    Naive r{std::vector<double>(B * H * Tq * Dv, 0.0), std::vector<double>(B * H * Tq * Tk, 0.0)};
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t i = 0; i < Tq; ++i) {
                const int64_t pos = i + Tk - Tq, g = h / (H / Hkv);
                std::vector<double> s(Tk, -INFINITY);
                for (int64_t j = 0; j < Tk; ++j) {
                    if (m.causal && j > pos) continue;
                    if (m.window >= 0 && std::abs(pos - j) > m.window) continue;
                    if (!m.key_lengths.empty() && j >= m.key_lengths[b]) continue;
                    if (m.bool_mask.defined() && broadcast_at(m.bool_mask, b, h, i, j) == 0.f) continue;
                    double dot = 0;
                    for (int64_t d = 0; d < D; ++d) dot += double(q.at({b, h, i, d})) * k.at({b, g, j, d});
                    s[j] = scale * dot + (m.additive_mask.defined() ? broadcast_at(m.additive_mask, b, h, i, j) : 0.0);
                }
                double mx = -INFINITY;
                for (double x : s) mx = std::max(mx, x);
                if (mx == -INFINITY) continue;
                double sum = 0;
                for (double& x : s) sum += (x = std::exp(x - mx));
                for (int64_t j = 0; j < Tk; ++j) {
                    const double w = s[j] / sum;
                    r.weights[((b * H + h) * Tq + i) * Tk + j] = w;
                    for (int64_t e = 0; e < Dv; ++e) r.out[((b * H + h) * Tq + i) * Dv + e] += w * v.at({b, g, j, e});
                }
            }
    return r;
}

// The mask kinds, on shapes (B, H, Tq, Tk); `seed` varies the random parts.
const char* const kMaskKinds[] = {"none", "causal", "padding", "window", "bool", "additive", "causal+padding", "all"};
AttentionMask make_mask(const std::string& kind, int64_t B, int64_t H, int64_t Tq, int64_t Tk, uint64_t seed) {
    Generator gen(seed);
    AttentionMask m;
    const bool all = kind == "all";
    if (kind == "causal" || kind == "causal+padding" || all) m.causal = true;
    if (kind == "window" || all) m.window = 2;
    if (kind == "padding" || kind == "causal+padding" || all)
        for (int64_t b = 0; b < B; ++b) m.key_lengths.push_back(Tk - b % Tk);  // Tk, Tk-1, ...
    if (kind == "bool" || all) {
        m.bool_mask = Tensor::empty({B, 1, Tq, Tk});  // broadcast over heads
        for (int64_t x = 0; x < m.bool_mask.numel(); ++x) m.bool_mask.data()[x] = gen.uniform() < 0.7f ? 1.f : 0.f;
    }
    if (kind == "additive" || all) {
        m.additive_mask = Tensor::randn({1, H, Tq, Tk}, gen);  // broadcast over the batch
        for (int64_t x = 0; x < m.additive_mask.numel(); ++x)
            if (gen.uniform() < 0.2f) m.additive_mask.data()[x] = -INFINITY;
    }
    return m;
}

Tensor leaf(const Tensor& t) {
    Tensor c = t.detach().clone();
    c.requires_grad_();
    return c;
}

}  // namespace

// ---- the seeds' form: z_i = Σ_j softmax_j(x_i · x_j) x_j --------------------------------

// x = [1 0; 0 1; 1 1]. Scores x_i·x_j: row 0 [1 0 1], row 1 [0 1 1], row 2 [1 1 2]. With
// e = exp(1):
//   row 0: w = [e, 1, e] / (2e + 1)    z_0 = (e·x_0 + x_1 + e·x_2) / (2e + 1) = [2e, 1 + e] / (2e + 1)
//   row 1: w = [1, e, e] / (2e + 1)    z_1 = [1 + e, 2e] / (2e + 1)
//   row 2: w = [e, e, e²] / (2e + e²) = [1, 1, e] / (2 + e)   z_2 = [1 + e, 1 + e] / (2 + e)
TEST(BasicSelfAttention, SeedsWorkedExampleByHand) {
    const double e = std::exp(1.0);
    Tensor x = Tensor::from_vector({3, 2}, {1, 0, 0, 1, 1, 1});
    Tensor w;
    Tensor z = basic_self_attention(x, -1, &w);
    ASSERT_EQ(z.shape(), (Shape{3, 2}));
    ASSERT_EQ(w.shape(), (Shape{3, 3}));
    const std::vector<double> weights = {e / (2 * e + 1), 1 / (2 * e + 1), e / (2 * e + 1),  //
                                         1 / (2 * e + 1), e / (2 * e + 1), e / (2 * e + 1),  //
                                         1 / (2 + e),     1 / (2 + e),     e / (2 + e)};
    const std::vector<double> out = {2 * e / (2 * e + 1), (1 + e) / (2 * e + 1),  //
                                     (1 + e) / (2 * e + 1), 2 * e / (2 * e + 1),  //
                                     (1 + e) / (2 + e),     (1 + e) / (2 + e)};
    EXPECT_LT(max_abs_diff(w, weights), 1e-6);
    EXPECT_LT(max_abs_diff(z, out), 1e-6);
}

// Window 1 on x = [1 0; 0 1; 1 1; 2 0]: token 0 sees tokens 0, 1 (scores 1, 0):
//   w_0 = [e, 1, 0, 0] / (e + 1),  z_0 = [e, 1] / (e + 1)
// token 3 sees tokens 2, 3 (scores x_3·x_2 = 2, x_3·x_3 = 4):
//   w_3 = [0, 0, 1, e²] / (1 + e²),  z_3 = ([1, 1] + e²·[2, 0]) / (1 + e²)
TEST(BasicSelfAttention, WindowRestrictsToNeighbours) {
    const double e = std::exp(1.0), e2 = e * e;
    Tensor x = Tensor::from_vector({4, 2}, {1, 0, 0, 1, 1, 1, 2, 0});
    Tensor w;
    Tensor z = basic_self_attention(x, 1, &w);
    EXPECT_LT(max_abs_diff(w.slice(0, 0, 1), {e / (e + 1), 1 / (e + 1), 0, 0}), 1e-6);
    EXPECT_LT(max_abs_diff(w.slice(0, 3, 4), {0, 0, 1 / (1 + e2), e2 / (1 + e2)}), 1e-6);
    EXPECT_LT(max_abs_diff(z.slice(0, 0, 1), {e / (e + 1), 1 / (e + 1)}), 1e-6);
    EXPECT_LT(max_abs_diff(z.slice(0, 3, 4), {(1 + 2 * e2) / (1 + e2), 1 / (1 + e2)}), 1e-6);
    for (int64_t i = 0; i < 4; ++i)  // nothing outside |i - j| <= 1
        for (int64_t j = 0; j < 4; ++j)
            if (std::abs(i - j) > 1) {
                EXPECT_EQ(w.at({i, j}), 0.f) << i << "," << j;
            }

    // Batched input: each sequence on its own, weights (B, T, T).
    Tensor xb = Tensor::from_vector({2, 4, 2}, {1, 0, 0, 1, 1, 1, 2, 0, 2, 0, 1, 1, 0, 1, 1, 0});
    Tensor wb;
    Tensor zb = basic_self_attention(xb, 1, &wb);
    ASSERT_EQ(zb.shape(), (Shape{2, 4, 2}));
    ASSERT_EQ(wb.shape(), (Shape{2, 4, 4}));
    EXPECT_LT(max_abs_diff(zb.slice(0, 0, 1).reshape({4, 2}), z), 1e-7);
    Tensor z1 = basic_self_attention(xb.slice(0, 1, 2).reshape({4, 2}), 1);
    EXPECT_LT(max_abs_diff(zb.slice(0, 1, 2).reshape({4, 2}), z1), 1e-7);
}

TEST(BasicSelfAttention, GradientFlowsThroughQueryKeyAndValueRoles) {
    Generator gen(3);
    for (int64_t window : {-1, 1}) {
        auto r = gradcheck([window](const std::vector<Tensor>& in) { return basic_self_attention(in[0], window); },
                           {Tensor::randn({5, 3}, gen)});
        EXPECT_TRUE(r.ok()) << "window " << window << ": " << r.worst;
        auto rb = gradcheck([window](const std::vector<Tensor>& in) { return basic_self_attention(in[0], window); },
                            {Tensor::randn({2, 4, 3}, gen)});
        EXPECT_TRUE(rb.ok()) << "batched, window " << window << ": " << rb.worst;
    }
    // The value role alone would give dz/dx = w (the weights); the query and key roles add
    // more, so the gradient must differ from it.
    Tensor x = leaf(Tensor::randn({4, 3}, gen));
    Tensor w;
    sum(basic_self_attention(x, -1, &w)).backward();
    Tensor value_only = matmul(Tensor::ones({1, 4}), w.detach());  // Σ_i w_ij, per j
    double diff = 0;
    for (int64_t j = 0; j < 4; ++j)
        for (int64_t d = 0; d < 3; ++d) diff = std::max<double>(diff, std::fabs(x.grad().at({j, d}) - value_only.at({0, j})));
    EXPECT_GT(diff, 1e-3);
}

TEST(BasicSelfAttention, RejectsBadShapes) {
    EXPECT_THROW(basic_self_attention(Tensor::zeros({3})), Error);
    EXPECT_THROW(basic_self_attention(Tensor::zeros({1, 2, 3, 4})), Error);
    EXPECT_THROW(basic_self_attention(Tensor::zeros({3, 0})), Error);
}

// ---- scaled dot-product attention ----------------------------------------------------------

TEST(Attention, EveryMaskMatchesNaiveLoopOnBothPaths) {
    struct Dims { int64_t B, H, Hkv, Tq, Tk, D, Dv; };
    const Dims shapes[] = {{2, 4, 2, 5, 5, 8, 8}, {2, 4, 1, 3, 7, 4, 6}, {1, 2, 2, 9, 9, 16, 16}};
    Generator gen(11);
    uint64_t seed = 100;
    for (const Dims& s : shapes) {
        Tensor q = Tensor::randn({s.B, s.H, s.Tq, s.D}, gen), k = Tensor::randn({s.B, s.Hkv, s.Tk, s.D}, gen);
        Tensor v = Tensor::randn({s.B, s.Hkv, s.Tk, s.Dv}, gen);
        for (const char* kind : kMaskKinds) {
            const AttentionMask m = make_mask(kind, s.B, s.H, s.Tq, s.Tk, ++seed);
            const Naive expected = naive_attention(q, k, v, m, 1.0 / std::sqrt(double(s.D)));
            for (AttentionPath path : kPaths) {
                SCOPED_TRACE(std::string(kind) + ", " + path_name(path) + ", q " + to_string(q.shape()) + " k " +
                             to_string(k.shape()));
                AttentionOptions o;
                o.path = path;
                const AttentionOutput r = attention(q, k, v, m, o);
                ASSERT_EQ(r.output.shape(), (Shape{s.B, s.H, s.Tq, s.Dv}));
                EXPECT_LT(max_abs_diff(r.output, expected.out), 1e-5);
                EXPECT_FALSE(r.weights.defined());
            }
            AttentionOptions o;
            o.return_weights = true;  // selects the reference path even though fused is the default
            const AttentionOutput r = attention(q, k, v, m, o);
            ASSERT_TRUE(r.weights.defined()) << kind;
            ASSERT_EQ(r.weights.shape(), (Shape{s.B, s.H, s.Tq, s.Tk}));
            EXPECT_LT(max_abs_diff(r.weights, expected.weights), 1e-6) << kind;
        }
    }
}

TEST(Attention, CustomScaleReplacesOneOverSqrtD) {
    Generator gen(12);
    Tensor q = Tensor::randn({1, 2, 4, 8}, gen), k = Tensor::randn({1, 2, 4, 8}, gen), v = Tensor::randn({1, 2, 4, 8}, gen);
    const Naive expected = naive_attention(q, k, v, {}, 0.7);
    for (AttentionPath path : kPaths) {
        AttentionOptions o;
        o.path = path;
        o.scale = 0.7f;
        EXPECT_LT(max_abs_diff(attention(q, k, v, {}, o).output, expected.out), 1e-5) << path_name(path);
    }
}

// Documented behaviour: a query row that sees no key outputs zeros and passes no gradient
// (PyTorch gives NaN). Three ways to mask a whole row: a boolean row of zeros, an additive
// row of -inf, a key length of 0.
TEST(Attention, FullyMaskedRowGivesZerosAndZeroGradient) {
    const int64_t B = 2, H = 2, T = 4, D = 3;
    Generator gen(13);
    Tensor q0 = Tensor::randn({B, H, T, D}, gen), k0 = Tensor::randn({B, H, T, D}, gen), v0 = Tensor::randn({B, H, T, D}, gen);
    AttentionMask by_bool, by_additive, by_length;
    by_bool.bool_mask = Tensor::ones({T, T});
    by_additive.additive_mask = Tensor::zeros({T, T});
    for (int64_t j = 0; j < T; ++j) {
        by_bool.bool_mask.data()[2 * T + j] = 0.f;              // query row 2, every batch and head
        by_additive.additive_mask.data()[2 * T + j] = -INFINITY;
    }
    by_length.key_lengths = {T, 0};  // batch 1 has no keys at all
    for (const AttentionMask* m : {&by_bool, &by_additive, &by_length}) {
        for (AttentionPath path : kPaths) {
            SCOPED_TRACE(std::string(path_name(path)) + (m == &by_bool ? " bool" : m == &by_additive ? " additive" : " length"));
            Tensor q = leaf(q0), k = leaf(k0), v = leaf(v0);
            AttentionOptions o;
            o.path = path;
            Tensor out = attention(q, k, v, *m, o).output;
            sum(mul(out, Tensor::randn(out.shape(), gen))).backward();
            ASSERT_TRUE(all_finite(out) && all_finite(q.grad()) && all_finite(k.grad()) && all_finite(v.grad()));
            const Naive expected = naive_attention(q0, k0, v0, *m, 1.0 / std::sqrt(double(D)));
            EXPECT_LT(max_abs_diff(out, expected.out), 1e-5);  // masked rows zero, the rest as usual
            for (int64_t b = 0; b < B; ++b)
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t i = 0; i < T; ++i) {
                        const bool masked = m == &by_length ? b == 1 : i == 2;
                        if (!masked) continue;
                        for (int64_t d = 0; d < D; ++d) {
                            EXPECT_EQ(out.at({b, h, i, d}), 0.f);
                            EXPECT_EQ(q.grad().at({b, h, i, d}), 0.f);
                        }
                    }
            if (m == &by_length)  // batch 1's keys and values were never read
                for (int64_t x = 0; x < H * T * D; ++x) {
                    EXPECT_EQ(k.grad().data()[H * T * D + x], 0.f);
                    EXPECT_EQ(v.grad().data()[H * T * D + x], 0.f);
                }
        }
    }
    // The same rows through gradcheck: zero analytic gradient, zero numeric gradient.
    auto r = gradcheck([&](const std::vector<Tensor>& in) {
        AttentionOptions o;
        o.path = AttentionPath::reference;
        return attention(in[0], in[1], in[2], by_bool, o).output;
    }, {q0, k0, v0});
    EXPECT_TRUE(r.ok()) << r.worst;
}

// Scores of ±1e4 (and far beyond) must not overflow exp: the softmax is then one-hot.
TEST(Attention, HugeScoresStayFinite) {
    for (float magnitude : {1e4f, 1e6f}) {
        // D = 1, scale 1: score(i, j) = q_i · k_j with q = ±magnitude, k = ±1 → scores ±magnitude.
        Tensor q0 = Tensor::from_vector({1, 1, 2, 1}, {magnitude, -magnitude});
        Tensor k0 = Tensor::from_vector({1, 1, 3, 1}, {1, -1, 0.5f});
        Tensor v0 = Tensor::from_vector({1, 1, 3, 2}, {1, 2, 3, 4, 5, 6});
        AttentionMask additive;  // huge additive values too
        additive.additive_mask = Tensor::from_vector({3}, {0, -magnitude, magnitude});  // broadcast over rows
        for (const AttentionMask& m : {AttentionMask{}, additive}) {
            for (AttentionPath path : kPaths) {
                SCOPED_TRACE(std::string(path_name(path)) + " magnitude " + std::to_string(magnitude) +
                             (m.empty() ? "" : " + additive"));
                Tensor q = leaf(q0), k = leaf(k0), v = leaf(v0);
                AttentionOptions o;
                o.path = path;
                o.scale = 1.f;
                Tensor out = attention(q, k, v, m, o).output;
                sum(mul(out, Tensor::from_vector({1, 1, 2, 2}, {1, -2, 0.5f, 3}))).backward();
                EXPECT_TRUE(all_finite(out));
                EXPECT_TRUE(all_finite(q.grad()) && all_finite(k.grad()) && all_finite(v.grad()));
                // Row 0 (q = +M): scores [M, -M, M/2] pick key 0; row 1 (q = -M): [-M, M, -M/2] pick key 1.
                // With the additive mask [0, -M, M]: [M, -2M, 1.5M] and [-M, 0, 0.5M] both pick key 2.
                const std::vector<double> expected =
                    m.empty() ? std::vector<double>{1, 2, 3, 4} : std::vector<double>{5, 6, 5, 6};
                EXPECT_LT(max_abs_diff(out, expected), 1e-5);
            }
        }
    }
}

// T = 1: the softmax over one key is 1, so out = v, and q, k get no gradient.
TEST(Attention, SingleTokenReturnsItsValue) {
    Generator gen(14);
    Tensor q0 = Tensor::randn({2, 4, 1, 8}, gen), k0 = Tensor::randn({2, 2, 1, 8}, gen), v0 = Tensor::randn({2, 2, 1, 8}, gen);
    for (const char* kind : kMaskKinds) {
        if (std::string(kind) == "bool" || std::string(kind) == "all") continue;  // masked rows: tested above
        const AttentionMask m = make_mask(kind, 2, 4, 1, 1, 7);
        for (AttentionPath path : kPaths) {
            SCOPED_TRACE(std::string(kind) + " " + path_name(path));
            Tensor q = leaf(q0), k = leaf(k0), v = leaf(v0);
            AttentionOptions o;
            o.path = path;
            Tensor out = attention(q, k, v, m, o).output;
            ASSERT_EQ(out.shape(), (Shape{2, 4, 1, 8}));
            // an additive -inf hides the only key of that head: zeros then
            auto hidden = [&](int64_t h) {
                return m.additive_mask.defined() && m.additive_mask.at({0, h, 0, 0}) == -INFINITY;
            };
            for (int64_t b = 0; b < 2; ++b)
                for (int64_t h = 0; h < 4; ++h)
                    for (int64_t d = 0; d < 8; ++d)
                        EXPECT_EQ(out.at({b, h, 0, d}), hidden(h) ? 0.f : v0.at({b, h / 2, 0, d}));
            sum(out).backward();
            // Zero up to rounding: the fused backward forms dP − Σ dO·O from two sums in different orders.
            for (float g : q.grad().to_vector()) EXPECT_NEAR(g, 0.f, 1e-6);
            for (float g : k.grad().to_vector()) EXPECT_NEAR(g, 0.f, 1e-6);
            for (int64_t b = 0; b < 2; ++b)  // each kv head serves two query heads
                for (int64_t g = 0; g < 2; ++g)
                    for (int64_t d = 0; d < 8; ++d)
                        EXPECT_NEAR(v.grad().at({b, g, 0, d}), float(!hidden(2 * g)) + float(!hidden(2 * g + 1)), 1e-6);
        }
    }
}

// A query block at the end of a longer key sequence (KV-cache decoding, chunked prefill):
// query i sits at absolute position i + Tk - Tq. The last rows of a full causal pass must equal
// a pass over only those queries against all keys.
TEST(Attention, CausalQueryBlockAlignsWithEndOfKeys) {
    const int64_t B = 2, H = 4, Hkv = 2, T = 9, D = 8;
    Generator gen(15);
    Tensor q = Tensor::randn({B, H, T, D}, gen), k = Tensor::randn({B, Hkv, T, D}, gen), v = Tensor::randn({B, Hkv, T, D}, gen);
    AttentionMask causal;
    causal.causal = true;
    AttentionMask causal_window = causal;
    causal_window.window = 3;
    for (const AttentionMask& m : {causal, causal_window})
        for (AttentionPath path : kPaths) {
            SCOPED_TRACE(std::string(path_name(path)) + (m.window >= 0 ? " window" : ""));
            AttentionOptions o;
            o.path = path;
            const Tensor full = attention(q, k, v, m, o).output;
            for (int64_t tq : {1, 2, 5}) {
                const Tensor block = attention(q.slice(2, T - tq, T), k, v, m, o).output;
                EXPECT_LT(max_abs_diff(block, full.slice(2, T - tq, T)), 1e-6) << "Tq = " << tq;
            }
            // Decoding the last token: causal lets it see every key, so it equals no mask.
            AttentionMask none;
            none.window = m.window;
            EXPECT_LT(max_abs_diff(attention(q.slice(2, T - 1, T), k, v, m, o).output,
                                   attention(q.slice(2, T - 1, T), k, v, none, o).output), 1e-6);
        }
    EXPECT_THROW(attention(q, k.slice(2, 0, 4), v.slice(2, 0, 4), causal), Error);  // more queries than keys
}

TEST(Attention, GroupedQueryEqualsRepeatedKeyValueHeads) {
    const int64_t B = 2, H = 6, Hkv = 2, T = 5, D = 4, group = H / Hkv;
    Generator gen(16);
    Tensor q0 = Tensor::randn({B, H, T, D}, gen), k0 = Tensor::randn({B, Hkv, T, D}, gen), v0 = Tensor::randn({B, Hkv, T, D}, gen);
    // k, v with head g repeated for query heads g·group ... g·group + group - 1
    Tensor kr0 = Tensor::empty({B, H, T, D}), vr0 = Tensor::empty({B, H, T, D});
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t x = 0; x < T * D; ++x) {
                kr0.data()[(b * H + h) * T * D + x] = k0.data()[(b * Hkv + h / group) * T * D + x];
                vr0.data()[(b * H + h) * T * D + x] = v0.data()[(b * Hkv + h / group) * T * D + x];
            }
    const AttentionMask m = make_mask("causal+padding", B, H, T, T, 3);
    for (AttentionPath path : kPaths) {
        SCOPED_TRACE(path_name(path));
        AttentionOptions o;
        o.path = path;
        Tensor q = leaf(q0), k = leaf(k0), v = leaf(v0), qr = leaf(q0), kr = leaf(kr0), vr = leaf(vr0);
        const Tensor probe = Tensor::randn({B, H, T, D}, gen);
        Tensor out = attention(q, k, v, m, o).output, outr = attention(qr, kr, vr, m, o).output;
        EXPECT_LT(max_abs_diff(out, outr), 1e-6);
        sum(mul(out, probe)).backward();
        sum(mul(outr, probe)).backward();
        EXPECT_LT(max_abs_diff(q.grad(), qr.grad()), 1e-5);
        // dK of a shared head = Σ over its query heads of the repeated heads' dK
        for (int64_t b = 0; b < B; ++b)
            for (int64_t g = 0; g < Hkv; ++g)
                for (int64_t x = 0; x < T * D; ++x) {
                    double dk = 0, dv = 0;
                    for (int64_t r = 0; r < group; ++r) {
                        dk += kr.grad().data()[(b * H + g * group + r) * T * D + x];
                        dv += vr.grad().data()[(b * H + g * group + r) * T * D + x];
                    }
                    EXPECT_NEAR(k.grad().data()[(b * Hkv + g) * T * D + x], dk, 1e-5);
                    EXPECT_NEAR(v.grad().data()[(b * Hkv + g) * T * D + x], dv, 1e-5);
                }
    }
}

// Inputs laid out (B, T, H, D) and viewed as (B, H, T, D) (as multi-head attention does) give
// the same result as contiguous ones, and their gradients land in the original layout.
TEST(Attention, AcceptsNonContiguousViews) {
    Generator gen(17);
    Tensor qt = leaf(Tensor::randn({2, 5, 4, 8}, gen)), kt = leaf(Tensor::randn({2, 5, 4, 8}, gen));
    Tensor vt = leaf(Tensor::randn({2, 5, 4, 8}, gen));
    AttentionMask m;
    m.causal = true;
    std::vector<Tensor> grads;
    for (AttentionPath path : kPaths) {
        SCOPED_TRACE(path_name(path));
        AttentionOptions o;
        o.path = path;
        Tensor out = attention(qt.transpose(1, 2), kt.transpose(1, 2), vt.transpose(1, 2), m, o).output;
        const Tensor expected = attention(qt.transpose(1, 2).contiguous().detach(), kt.transpose(1, 2).contiguous().detach(),
                                          vt.transpose(1, 2).contiguous().detach(), m, o).output;
        EXPECT_LT(max_abs_diff(out, expected), 1e-7);
        qt.zero_grad();
        sum(out).backward();
        ASSERT_TRUE(qt.grad().defined());
        EXPECT_EQ(qt.grad().shape(), (Shape{2, 5, 4, 8}));
        grads.push_back(qt.grad());
    }
    EXPECT_LT(max_abs_diff(grads[0], grads[1]), 1e-5);  // both paths agree on the gradient
}

TEST(Attention, ReturnedWeightsAreRowStochasticAndSafeToEdit) {
    Generator gen(18);
    Tensor q = leaf(Tensor::randn({1, 2, 6, 4}, gen)), k = leaf(Tensor::randn({1, 2, 6, 4}, gen));
    Tensor v = leaf(Tensor::randn({1, 2, 6, 4}, gen));
    AttentionMask m;
    m.causal = true;
    AttentionOptions o;
    o.return_weights = true;
    AttentionOutput r = attention(q, k, v, m, o);
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < 6; ++i) {
            double row = 0;
            for (int64_t j = 0; j < 6; ++j) {
                row += r.weights.at({0, h, i, j});
                if (j > i) {
                    EXPECT_EQ(r.weights.at({0, h, i, j}), 0.f);
                }
            }
            EXPECT_NEAR(row, 1.0, 1e-6);
        }
    // Writing into the returned weights must not change the gradient.
    Tensor probe = Tensor::randn({1, 2, 6, 4}, gen);
    AttentionOptions ref;
    ref.path = AttentionPath::reference;
    Tensor q2 = leaf(q), k2 = leaf(k), v2 = leaf(v);
    sum(mul(attention(q2, k2, v2, m, ref).output, probe)).backward();
    std::fill_n(r.weights.data(), r.weights.numel(), 0.5f);
    sum(mul(r.output, probe)).backward();
    EXPECT_LT(max_abs_diff(q.grad(), q2.grad()), 1e-7);
    EXPECT_LT(max_abs_diff(v.grad(), v2.grad()), 1e-7);
}

// Error messages name what was expected and the shapes actually passed.
TEST(Attention, ShapeErrorsNameTheShapes) {
    auto message = [](const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& m = {}) -> std::string {
        try {
            attention(q, k, v, m);
        } catch (const Error& e) {
            return e.what();
        }
        return "no error";
    };
    auto z = [](Shape s) { return Tensor::zeros(s); };
    auto has = [](const std::string& text, const std::string& part) {
        return ::testing::AssertionResult(text.find(part) != std::string::npos) << "'" << part << "' not in: " << text;
    };
    std::string e = message(z({2, 5, 8}), z({2, 1, 5, 8}), z({2, 1, 5, 8}));
    EXPECT_TRUE(has(e, "4-D"));
    EXPECT_TRUE(has(e, "q (2, 5, 8)"));
    e = message(z({2, 4, 5, 8}), z({3, 4, 5, 8}), z({3, 4, 5, 8}));
    EXPECT_TRUE(has(e, "batch"));
    EXPECT_TRUE(has(e, "q (2, 4, 5, 8), k (3, 4, 5, 8), v (3, 4, 5, 8)"));
    e = message(z({2, 4, 5, 8}), z({2, 4, 5, 6}), z({2, 4, 5, 8}));
    EXPECT_TRUE(has(e, "head dim"));
    EXPECT_TRUE(has(e, "k (2, 4, 5, 6)"));
    e = message(z({2, 4, 5, 8}), z({2, 4, 5, 8}), z({2, 4, 6, 8}));
    EXPECT_TRUE(has(e, "Tk"));
    EXPECT_TRUE(has(e, "v (2, 4, 6, 8)"));
    e = message(z({2, 4, 5, 8}), z({2, 4, 5, 8}), z({2, 2, 5, 8}));
    EXPECT_TRUE(has(e, "Hkv"));
    e = message(z({2, 6, 5, 8}), z({2, 4, 5, 8}), z({2, 4, 5, 8}));
    EXPECT_TRUE(has(e, "multiple"));
    EXPECT_TRUE(has(e, "q (2, 6, 5, 8), k (2, 4, 5, 8)"));
    e = message(z({2, 4, 5, 0}), z({2, 4, 5, 0}), z({2, 4, 5, 8}));
    EXPECT_TRUE(has(e, "positive"));
    EXPECT_TRUE(has(e, "q (2, 4, 5, 0)"));
    AttentionMask bad_bool;
    bad_bool.bool_mask = z({3, 5});
    e = message(z({2, 4, 5, 8}), z({2, 4, 5, 8}), z({2, 4, 5, 8}), bad_bool);
    EXPECT_TRUE(has(e, "bool_mask has shape (3, 5)"));
    EXPECT_TRUE(has(e, "(2, 4, 5, 5)"));
    AttentionMask bad_lengths;
    bad_lengths.key_lengths = {5};
    EXPECT_TRUE(has(message(z({2, 4, 5, 8}), z({2, 4, 5, 8}), z({2, 4, 5, 8}), bad_lengths), "key_lengths has 1"));
    bad_lengths.key_lengths = {5, 6};
    EXPECT_TRUE(has(message(z({2, 4, 5, 8}), z({2, 4, 5, 8}), z({2, 4, 5, 8}), bad_lengths), "key_lengths[1] = 6"));
    EXPECT_THROW(attention(Tensor(), z({1, 1, 1, 1}), z({1, 1, 1, 1})), Error);
}

// Finite differences against the reference backward, for every mask kind, with GQA,
// Tq != Tk and Dv != D.
TEST(Attention, ReferenceGradcheckEveryMaskWithGroupedQueries) {
    struct Dims { int64_t B, H, Hkv, Tq, Tk, D, Dv; };
    const Dims shapes[] = {{2, 4, 2, 3, 4, 3, 2}, {1, 2, 1, 4, 4, 2, 3}};
    Generator gen(19);
    uint64_t seed = 500;
    for (const Dims& s : shapes)
        for (const char* kind : kMaskKinds) {
            const AttentionMask m = make_mask(kind, s.B, s.H, s.Tq, s.Tk, ++seed);
            auto f = [&](const std::vector<Tensor>& in) {
                AttentionOptions o;
                o.path = AttentionPath::reference;
                return attention(in[0], in[1], in[2], m, o).output;
            };
            auto r = gradcheck(f, {Tensor::randn({s.B, s.H, s.Tq, s.D}, gen), Tensor::randn({s.B, s.Hkv, s.Tk, s.D}, gen),
                                   Tensor::randn({s.B, s.Hkv, s.Tk, s.Dv}, gen)});
            EXPECT_TRUE(r.ok()) << kind << " (B, H, Hkv, Tq, Tk) = (" << s.B << ", " << s.H << ", " << s.Hkv
                                             << ", " << s.Tq << ", " << s.Tk << "): " << r.worst;
        }
}
