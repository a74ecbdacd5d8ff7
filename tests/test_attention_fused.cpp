// The fused attention path held to the reference path (and both to a float64 loop written
// here from the mask definitions, independent of MaskPlan), forward and backward, over tile
// edges (T around the 128 × 128 tiles, and 64), every mask, GQA, head dims, Tq ≠ Tk, fully
// masked rows, huge logits; plus finite differences on a tiny case.
//
// The fused backward has two schedules (one sweep per (batch, kv head), or two passes when
// there are too few such pairs for the threads); running with 1 and with 2-3 threads
// exercises both on the same inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "attend/gradcheck.hpp"
#include "attend/attention.hpp"
#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "attention/mask.hpp"
#include "attention/paths.hpp"
#include "support/each_isa.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::close_to;

namespace {

constexpr double kTolerance = 1e-5;

struct Inputs {
    Tensor q, k, v, dout;  // (B, H, Tq, D), (B, Hkv, Tk, D), (B, Hkv, Tk, Dv), (B, H, Tq, Dv)
    int64_t B() const { return q.size(0); }
    int64_t H() const { return q.size(1); }
    int64_t Tq() const { return q.size(2); }
    int64_t Tk() const { return k.size(2); }
    int64_t D() const { return q.size(3); }
    int64_t Dv() const { return v.size(3); }
};

Inputs make_inputs(int64_t B, int64_t H, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv,
                   uint64_t seed) {
    Generator gen(seed);
    return {Tensor::randn({B, H, Tq, D}, gen), Tensor::randn({B, Hkv, Tk, D}, gen),
            Tensor::randn({B, Hkv, Tk, Dv}, gen), Tensor::randn({B, H, Tq, Dv}, gen)};
}

struct Result {
    Tensor out, dq, dk, dv;
};

enum class Path { fused, reference };

// Forward, then backward from inputs.dout, on fresh leaves.
Result run(Path path, const Inputs& in, const AttentionMask& mask, float scale, int threads = 1) {
    set_num_threads(threads);
    Tensor q = in.q.clone(), k = in.k.clone(), v = in.v.clone();
    q.requires_grad_();
    k.requires_grad_();
    v.requires_grad_();
    const MaskPlan plan(mask, in.B(), in.H(), in.Tq(), in.Tk());
    Tensor out = path == Path::fused ? fused_attention(q, k, v, plan, scale)
                                     : reference_attention(q, k, v, plan, scale, false).output;
    out.backward(in.dout);
    set_num_threads(0);
    return {out.detach(), q.grad(), k.grad(), v.grad()};
}

// A mask tensor read as (B, H, Tq, Tk): leading dims it lacks, and its size-1 dims, repeat.
struct BroadcastMask {
    std::vector<float> values;
    int64_t strides[4] = {0, 0, 0, 0};
    explicit BroadcastMask(const Tensor& m) {
        if (!m.defined()) return;
        values = m.to_vector();
        int64_t stride = 1;
        for (int64_t d = m.dim() - 1, e = 3; d >= 0; --d, --e) {
            if (m.size(d) != 1) strides[e] = stride;
            stride *= m.size(d);
        }
    }
    bool defined() const { return !values.empty(); }
    float at(int64_t b, int64_t h, int64_t i, int64_t j) const {
        return values[size_t(b * strides[0] + h * strides[1] + i * strides[2] + j * strides[3])];
    }
};

// The definition, in float64: a key counts when every mask part allows it; the query's
// absolute position is i + Tk − Tq (or query_offsets[b] + i); a row with no key (or only −inf scores) is zero.
Result naive_attention(const Inputs& in, const AttentionMask& mask, float scale) {
    const int64_t B = in.B(), H = in.H(), Hkv = in.k.size(1), Tq = in.Tq(), Tk = in.Tk(), D = in.D(), Dv = in.Dv();
    const std::vector<float> q = in.q.to_vector(), k = in.k.to_vector(), v = in.v.to_vector(),
                             dout = in.dout.to_vector();
    const BroadcastMask bools(mask.bool_mask), adds(mask.additive_mask);
    std::vector<double> out(size_t(B * H * Tq * Dv)), dq(q.size()), dk(k.size()), dv(v.size());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h) {
            const int64_t g = h / (H / Hkv);
            for (int64_t i = 0; i < Tq; ++i) {
                const int64_t pos = i + (mask.query_offsets.empty() ? Tk - Tq : mask.query_offsets[size_t(b)]);
                std::vector<double> s(size_t(Tk), -INFINITY);
                double m = -INFINITY;
                for (int64_t j = 0; j < Tk; ++j) {
                    if (mask.causal && j > pos) continue;
                    if (mask.window >= 0 && std::abs(pos - j) > mask.window) continue;
                    if (!mask.key_lengths.empty() && j >= mask.key_lengths[size_t(b)]) continue;
                    if (bools.defined() && bools.at(b, h, i, j) == 0.f) continue;
                    double dot = 0;
                    for (int64_t d = 0; d < D; ++d)
                        dot += double(q[size_t(((b * H + h) * Tq + i) * D + d)]) *
                               k[size_t(((b * Hkv + g) * Tk + j) * D + d)];
                    s[size_t(j)] = scale * dot;
                    if (adds.defined()) s[size_t(j)] += adds.at(b, h, i, j);
                    m = std::max(m, s[size_t(j)]);
                }
                if (m == -INFINITY) continue;  // fully masked row: zeros, no gradient
                std::vector<double> p(static_cast<size_t>(Tk)), dp(static_cast<size_t>(Tk));
                double l = 0;
                for (int64_t j = 0; j < Tk; ++j) l += p[size_t(j)] = std::exp(s[size_t(j)] - m);
                const float* dO = &dout[size_t(((b * H + h) * Tq + i) * Dv)];
                double delta = 0;
                for (int64_t j = 0; j < Tk; ++j) {
                    p[size_t(j)] /= l;
                    const float* vj = &v[size_t(((b * Hkv + g) * Tk + j) * Dv)];
                    for (int64_t e = 0; e < Dv; ++e) {
                        out[size_t(((b * H + h) * Tq + i) * Dv + e)] += p[size_t(j)] * vj[e];
                        dp[size_t(j)] += double(dO[e]) * vj[e];
                        dv[size_t(((b * Hkv + g) * Tk + j) * Dv + e)] += p[size_t(j)] * dO[e];
                    }
                    delta += p[size_t(j)] * dp[size_t(j)];
                }
                for (int64_t j = 0; j < Tk; ++j) {
                    const double ds = p[size_t(j)] * (dp[size_t(j)] - delta) * scale;
                    for (int64_t d = 0; d < D; ++d) {
                        dq[size_t(((b * H + h) * Tq + i) * D + d)] += ds * k[size_t(((b * Hkv + g) * Tk + j) * D + d)];
                        dk[size_t(((b * Hkv + g) * Tk + j) * D + d)] += ds * q[size_t(((b * H + h) * Tq + i) * D + d)];
                    }
                }
            }
        }
    const auto tensor = [](const Shape& shape, const std::vector<double>& x) {
        return Tensor::from_vector(shape, std::vector<float>(x.begin(), x.end()));
    };
    return {tensor({B, H, Tq, Dv}, out), tensor(in.q.shape(), dq), tensor(in.k.shape(), dk), tensor(in.v.shape(), dv)};
}

// The worst relative error seen per comparison ("fused vs reference" …) and per tensor,
// printed when the program ends, so a run reports its margins and not only pass/fail.
struct WorstErrors : ::testing::Environment {
    std::map<std::string, std::map<std::string, double>> worst;
    void TearDown() override {
        for (const auto& [comparison, parts] : worst) {
            std::printf("[fused attention] worst relative error, %s:", comparison.c_str());
            for (const auto& [part, err] : parts) std::printf(" %s %.2e", part.c_str(), err);
            std::printf("\n");
        }
    }
};
WorstErrors* const g_worst = static_cast<WorstErrors*>(::testing::AddGlobalTestEnvironment(new WorstErrors));

// Output and the three gradients within `tolerance` (relative to the expected tensor's scale).
// `what` ends in ": <comparison>", which keys the worst-error table.
::testing::AssertionResult all_close(const Result& actual, const Result& expected, const std::string& what,
                                     double tolerance = kTolerance) {
    const std::string comparison = what.substr(what.rfind(": ") == std::string::npos ? 0 : what.rfind(": ") + 2);
    for (auto [a, e, part] : {std::tuple{&actual.out, &expected.out, "output"}, {&actual.dq, &expected.dq, "dQ"},
                              {&actual.dk, &expected.dk, "dK"}, {&actual.dv, &expected.dv, "dV"}}) {
        if (a->defined() && e->defined() && a->shape() == e->shape()) {
            double& worst = g_worst->worst[comparison][part];
            worst = std::max(worst, attend::testing::relative_error(*a, *e));
        }
        auto r = close_to(*a, *e, tolerance, what + " " + part);
        if (!r) return r;
    }
    return ::testing::AssertionSuccess();
}

// ---- masks ---------------------------------------------------------------------------------

enum MaskBits : unsigned { kCausal = 1, kKeyLengths = 2, kWindow = 4, kBool = 8, kAdditive = 16 };

std::string mask_name(unsigned bits) {
    if (bits == 0) return "nomask";
    std::string name;
    for (auto [bit, part] : {std::pair{kCausal, "causal"}, {kKeyLengths, "keylengths"}, {kWindow, "window"},
                             {kBool, "bool"}, {kAdditive, "additive"}})
        if (bits & bit) {
            if (!name.empty()) name += '_';
            name += part;
        }
    return name;
}

// Random but deterministic masks; bool keeps ~75% of keys (so short rows can be fully
// masked), additive adds values in [−3, 3] with ~10% −inf.
AttentionMask make_mask(unsigned bits, int64_t B, int64_t H, int64_t Tq, int64_t Tk, uint64_t seed) {
    Generator gen(seed);
    AttentionMask mask;
    mask.causal = bits & kCausal;
    if (bits & kWindow) mask.window = 2 + Tk / 8;
    if (bits & kKeyLengths)
        for (int64_t b = 0; b < B; ++b) mask.key_lengths.push_back(b % 2 == 0 ? std::max<int64_t>(1, Tk * 2 / 3) : Tk);
    if (bits & kBool) {
        Tensor m = Tensor::empty({B, 1, Tq, Tk});  // broadcast over heads
        for (int64_t n = 0; n < m.numel(); ++n) m.data()[n] = gen.uniform() < 0.75f ? 1.f : 0.f;
        mask.bool_mask = m;
    }
    if (bits & kAdditive) {
        Tensor m = Tensor::empty({H, Tq, Tk});  // broadcast over the batch
        for (int64_t n = 0; n < m.numel(); ++n)
            m.data()[n] = gen.uniform() < 0.1f ? -INFINITY : gen.uniform(-3.f, 3.f);
        mask.additive_mask = m;
    }
    return mask;
}

// Fused (1 and several threads) against reference and the float64 loop.
void check_all_paths(const Inputs& in, const AttentionMask& mask, const std::string& what, int many_threads = 2) {
    const float scale = 1.f / std::sqrt(float(in.D()));
    const Result reference = run(Path::reference, in, mask, scale);
    const Result naive = naive_attention(in, mask, scale);
    EXPECT_TRUE(all_close(reference, naive, what + ": reference vs float64 loop"));
    for (int threads : {1, many_threads}) {
        const Result fused = run(Path::fused, in, mask, scale, threads);
        const std::string label = what + " [" + std::to_string(threads) + " threads]";
        EXPECT_TRUE(all_close(fused, reference, label + ": fused vs reference"));
        EXPECT_TRUE(all_close(fused, naive, label + ": fused vs float64 loop"));
    }
}

// ---- the grid: T at tile edges × every mask, each with GQA 1/2/4 and two head-dim pairs ------

using GridParam = std::tuple<int64_t, unsigned>;  // T, mask bits

class FusedAttentionGrid : public ::testing::TestWithParam<GridParam> {};

TEST_P(FusedAttentionGrid, MatchesReferenceForwardAndBackward) {
    const auto [T, bits] = GetParam();
    struct Heads {
        int64_t B, H, Hkv;
    };
    // B·Hkv of 8, 2 and 1: with 2 threads the last one takes the two-pass backward.
    for (Heads heads : {Heads{2, 4, 4}, Heads{2, 4, 2}, Heads{1, 4, 1}})
        for (auto [D, Dv] : {std::pair<int64_t, int64_t>{16, 16}, {64, 40}}) {
            const std::string what = "T=" + std::to_string(T) + " " + mask_name(bits) +
                                     " GQA=" + std::to_string(heads.H / heads.Hkv) + " D=" + std::to_string(D) +
                                     " Dv=" + std::to_string(Dv);
            SCOPED_TRACE(what);
            const Inputs in = make_inputs(heads.B, heads.H, heads.Hkv, T, T, D, Dv, 100 + T + bits);
            check_all_paths(in, make_mask(bits, heads.B, heads.H, T, T, bits), what);
        }
}

INSTANTIATE_TEST_SUITE_P(
    TileEdgesAndMasks, FusedAttentionGrid,
    ::testing::Combine(::testing::Values<int64_t>(1, 7, 63, 64, 65, 128, 129, 200),
                       ::testing::Values(0u, kCausal, kKeyLengths, kWindow, kBool, kAdditive, kCausal | kKeyLengths,
                                         kWindow | kBool, kCausal | kAdditive | kKeyLengths,
                                         kCausal | kWindow | kKeyLengths | kBool | kAdditive)),
    [](const ::testing::TestParamInfo<GridParam>& info) {
        std::string name = "T";  // built with += : GCC 12 warns falsely (-Wrestrict) on "T" + string
        name += std::to_string(std::get<0>(info.param));
        name += '_';
        name += mask_name(std::get<1>(info.param));
        return name;
    });

// ---- Tq ≠ Tk ---------------------------------------------------------------------------------

TEST(FusedAttention, DecodeOneQueryAgainstLongCache) {
    // KV-cache decoding: the single query sits at position Tk − 1.
    const Inputs in = make_inputs(2, 4, 2, 1, 100, 64, 64, 1);
    for (unsigned bits : {0u, unsigned(kCausal), kCausal | kWindow, kCausal | kKeyLengths})
        check_all_paths(in, make_mask(bits, 2, 4, 1, 100, 5), "Tq=1 Tk=100 " + mask_name(bits));
}

TEST(FusedAttention, KVCacheStepWithPerSequenceQueryOffsets) {
    // A cache of 300 slots: sequence 0 holds 40 tokens and gets 3 new ones, sequence 1 holds
    // 250 and gets 1 (its rows 1, 2 are padding): causal from each sequence's own offset.
    const Inputs in = make_inputs(2, 4, 2, 3, 300, 32, 32, 12);
    AttentionMask mask;
    mask.causal = true;
    mask.query_offsets = {40, 250};
    mask.key_lengths = {43, 251};
    check_all_paths(in, mask, "query_offsets causal");
    mask.window = 20;
    check_all_paths(in, mask, "query_offsets causal window");
}

// Inference with few query rows takes the decoding path (group heads per task, split keys);
// nothing records a gradient there, so only the output is compared, with the float64 loop.
struct DecodingCase {
    int64_t B, H, Hkv, Tq, Tk, D, Dv;
    unsigned bits;
};
// Key counts around the 16-key score blocks and 128-key chunks; head widths below, at and
// past 16, not multiples of it, and values wider than the keys (a 64-float block + tail).
const DecodingCase kDecodingCases[] = {
    {1, 1, 1, 1, 1000, 64, 64, kCausal}, {2, 8, 2, 1, 700, 64, 64, kCausal | kKeyLengths},
    {1, 4, 1, 4, 513, 40, 40, kCausal | kBool}, {3, 6, 3, 2, 257, 16, 16, kAdditive | kWindow},
    {1, 2, 2, 1, 5, 8, 8, 0u}, {2, 4, 4, 3, 130, 64, 64, kKeyLengths | kBool},
    {1, 6, 2, 1, 143, 24, 72, kCausal}, {2, 2, 1, 1, 16, 128, 136, kKeyLengths}};

// The decoding kernel (dot products and P·V sums on registers, 16 or 8 floats wide) under each
// kernel set the CPU runs (support/each_isa.hpp).
class FusedAttentionKernels : public attend::testing::UnderEachIsa {};
ATTEND_UNDER_EACH_ISA(FusedAttentionKernels);

TEST_P(FusedAttentionKernels, DecodingRowsWithoutGradientMatchFloat64) {
    for (const DecodingCase& c : kDecodingCases) {
        const Inputs in = make_inputs(c.B, c.H, c.Hkv, c.Tq, c.Tk, c.D, c.Dv, 40 + c.Tk);
        const AttentionMask mask = make_mask(c.bits, c.B, c.H, c.Tq, c.Tk, 9);
        const float scale = 1.f / std::sqrt(float(c.D));
        const Result naive = naive_attention(in, mask, scale);
        for (int threads : {1, 3}) {
            set_num_threads(threads);
            NoGradGuard no_grad;
            const Tensor out = fused_attention(in.q, in.k, in.v, MaskPlan(mask, c.B, c.H, c.Tq, c.Tk), scale);
            EXPECT_TRUE(close_to(out, naive.out, kTolerance,
                                 "decoding rows Tq=" + std::to_string(c.Tq) + " Tk=" + std::to_string(c.Tk) + " " +
                                     mask_name(c.bits) + " [" + std::to_string(threads) + " threads]"));
        }
        set_num_threads(0);
    }
}

// ---- keys and values held in bf16 (a bf16 KV cache) -------------------------------------------

namespace {

std::vector<uint16_t> rounded_to_bf16(const Tensor& t) {
    const Tensor c = t.contiguous();
    std::vector<uint16_t> r(size_t(c.numel()));
    to_bf16(c.data(), c.numel(), r.data());
    return r;
}

Tensor widened(const std::vector<uint16_t>& values, const Shape& shape) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = from_bf16(values[size_t(i)]);
    return t;
}

}  // namespace

// attention(q, bf16 keys and values) is attention over their widened values: on the decoding
// kernel (which reads the bf16 pairs itself and sums the scores' products in another order)
// within rounding, and on the widening path for everything else (Tq > 4, the reference path,
// weights). Head widths that are and are not multiples of the 16-value pair blocks, GQA, every
// mask, splits of long rows, 1 and 3 threads.
TEST_P(FusedAttentionKernels, Bf16KeysValuesActAsTheirWidenedValues) {
    // The decoding cases, and two for the widening path (Tq > 4).
    std::vector<DecodingCase> cases(std::begin(kDecodingCases), std::end(kDecodingCases));
    cases.push_back({1, 4, 2, 7, 300, 64, 64, kCausal | kKeyLengths});
    cases.push_back({2, 4, 2, 130, 260, 32, 48, kCausal});
    for (const DecodingCase& c : cases) {
        const Inputs in = make_inputs(c.B, c.H, c.Hkv, c.Tq, c.Tk, c.D, c.Dv, 70 + c.Tk);
        const AttentionMask mask = make_mask(c.bits, c.B, c.H, c.Tq, c.Tk, 5);
        const std::vector<uint16_t> k16 = rounded_to_bf16(in.k), v16 = rounded_to_bf16(in.v);
        const Tensor k = widened(k16, in.k.shape()), v = widened(v16, in.v.shape());
        const Bf16KeysValues kv{k16.data(), v16.data(), c.B, c.Hkv, c.Tk, c.D, c.Dv};
        for (int threads : {1, 3})
            for (AttentionPath path : {AttentionPath::fused, AttentionPath::reference}) {
                set_num_threads(threads);
                NoGradGuard no_grad;
                AttentionOptions options;
                options.path = path;
                options.return_weights = path == AttentionPath::reference;
                const AttentionOutput got = attention(in.q, kv, mask, options);
                const AttentionOutput want = attention(in.q, k, v, mask, options);
                const std::string what = std::string(path == AttentionPath::fused ? "fused" : "reference") +
                                         " Tq=" + std::to_string(c.Tq) + " Tk=" + std::to_string(c.Tk) + " D=" +
                                         std::to_string(c.D) + " " + mask_name(c.bits) + " [" +
                                         std::to_string(threads) + " threads]";
                EXPECT_TRUE(close_to(got.output, want.output, kTolerance, "bf16 keys, " + what));
                if (options.return_weights) {
                    EXPECT_TRUE(close_to(got.weights, want.weights, kTolerance, "bf16 keys, weights, " + what));
                }
            }
        set_num_threads(0);
    }
}

// A KV cache's step: per-sequence key_lengths and query_offsets over a buffer longer than any
// sequence. The widening path widens only the keys some sequence holds; a prefill step (Tq = 6)
// and a decoding step (Tq = 1) give what the fp32 call over the whole widened buffer gives,
// and q's gradient flows (the keys and values are constants).
TEST(FusedAttention, Bf16KeysValuesOfAKvCacheStep) {
    const int64_t B = 2, H = 4, Hkv = 2, cap = 64, D = 32;
    for (int64_t Tq : {6, 1}) {
        const Inputs in = make_inputs(B, H, Hkv, Tq, cap, D, D, 90 + Tq);
        AttentionMask mask;
        mask.causal = true;
        mask.query_offsets = {4, 24};
        mask.key_lengths = {4 + Tq, 24 + Tq};
        const std::vector<uint16_t> k16 = rounded_to_bf16(in.k), v16 = rounded_to_bf16(in.v);
        const Tensor k = widened(k16, in.k.shape()), v = widened(v16, in.v.shape());
        Tensor q = in.q.clone().requires_grad_(), q32 = in.q.clone().requires_grad_();
        const Tensor got = attention(q, Bf16KeysValues{k16.data(), v16.data(), B, Hkv, cap, D, D}, mask).output;
        const Tensor want = attention(q32, k, v, mask).output;
        EXPECT_TRUE(close_to(got, want, kTolerance, "cache step Tq=" + std::to_string(Tq)));
        got.backward(in.dout);
        want.backward(in.dout);
        EXPECT_TRUE(close_to(q.grad(), q32.grad(), kTolerance, "dq, cache step Tq=" + std::to_string(Tq)));
        // Weights over the whole buffer, as the fp32 call gives them (viz reads them per key).
        NoGradGuard no_grad;
        AttentionOptions weights;
        weights.return_weights = true;
        const AttentionOutput w16 = attention(in.q, Bf16KeysValues{k16.data(), v16.data(), B, Hkv, cap, D, D}, mask,
                                              weights);
        EXPECT_TRUE(close_to(w16.weights, attention(in.q, k, v, mask, weights).weights, kTolerance,
                             "weights, cache step Tq=" + std::to_string(Tq)));
    }
}

TEST(FusedAttention, Bf16KeysValuesErrorsAreClear) {
    const Tensor q = Tensor::zeros({1, 4, 1, 8});
    std::vector<uint16_t> k16(2 * 5 * 8), v16(2 * 5 * 8);
    const auto message = [&](const Bf16KeysValues& kv) {
        try {
            attention(q, kv);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_NE(message({nullptr, v16.data(), 1, 2, 5, 8, 8}).find("must both point at values"), std::string::npos);
    EXPECT_NE(message({k16.data(), v16.data(), 2, 2, 5, 8, 8}).find("do not fit q (1, 4, 1, 8)"), std::string::npos);
    EXPECT_NE(message({k16.data(), v16.data(), 1, 3, 5, 8, 8}).find("H a multiple of the kv heads"), std::string::npos);
    EXPECT_NE(message({k16.data(), v16.data(), 1, 2, 5, 4, 8}).find("need the same B and D"), std::string::npos);
    EXPECT_EQ(message({k16.data(), v16.data(), 1, 2, 5, 8, 8}), "(no error)");
}

TEST(FusedAttention, CrossAttentionShortQueriesLongKeys) {
    const Inputs in = make_inputs(2, 2, 2, 5, 37, 16, 24, 2);
    for (unsigned bits : {0u, unsigned(kKeyLengths), unsigned(kBool), kKeyLengths | kAdditive})
        check_all_paths(in, make_mask(bits, 2, 2, 5, 37, 6), "Tq=5 Tk=37 " + mask_name(bits));
}

TEST(FusedAttention, ChunkedPrefillAcrossKeyTiles) {
    // 150 new queries at the end of 300 keys: query tiles straddle key-tile boundaries.
    const Inputs in = make_inputs(1, 4, 2, 150, 300, 64, 64, 3);
    for (unsigned bits : {unsigned(kCausal), kCausal | kWindow, kCausal | kWindow | kKeyLengths | kBool})
        check_all_paths(in, make_mask(bits, 1, 4, 150, 300, 7), "Tq=150 Tk=300 " + mask_name(bits), 3);
}

TEST(FusedAttention, MoreQueriesThanKeys) {
    // With Tq > Tk the first queries sit at negative positions: a window leaves them no key.
    const Inputs in = make_inputs(1, 2, 1, 200, 65, 16, 16, 4);
    for (unsigned bits : {0u, unsigned(kWindow), kWindow | kBool})
        check_all_paths(in, make_mask(bits, 1, 2, 200, 65, 8), "Tq=200 Tk=65 " + mask_name(bits), 3);
}

TEST(FusedAttention, PublicApiDispatchesToFusedWithDefaultScale) {
    Generator gen(9);
    Tensor q = Tensor::randn({1, 2, 20, 16}, gen), k = Tensor::randn({1, 2, 30, 16}, gen),
           v = Tensor::randn({1, 2, 30, 8}, gen);
    AttentionMask mask;
    mask.key_lengths = {25};
    AttentionOptions fused, reference;
    reference.path = AttentionPath::reference;
    // Transposed views: the entry point makes them contiguous.
    Tensor qt = q.transpose(2, 3).contiguous().transpose(2, 3);
    EXPECT_TRUE(close_to(attention(qt, k, v, mask, fused).output, attention(q, k, v, mask, reference).output,
                         kTolerance, "attention() fused vs reference"));
}

// ---- defined edge cases ----------------------------------------------------------------------

TEST(FusedAttention, FullyMaskedRowsGiveZerosAndZeroGradient) {
    const int64_t B = 2, H = 2, T = 140, D = 16;
    const Inputs in = make_inputs(B, H, H, T, T, D, D, 11);
    AttentionMask mask;
    mask.key_lengths = {T, 0};  // batch 1: no key at all
    Tensor keep = Tensor::ones({B, 1, T, T});
    for (int64_t i : {0, 5, 127, 128, 139})  // batch 0: some rows lose every key, in both query tiles
        for (int64_t j = 0; j < T; ++j) keep.data()[i * T + j] = 0.f;
    mask.bool_mask = keep;
    for (int threads : {1, 3}) {
        const Result fused = run(Path::fused, in, mask, 0.25f, threads);
        const std::vector<float> out = fused.out.to_vector(), dq = fused.dq.to_vector(), dk = fused.dk.to_vector(),
                                 dv = fused.dv.to_vector();
        double masked_out = 0, masked_dq = 0, masked_dkv = 0, live_out = 0;
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t i = 0; i < T; ++i) {
                    const bool masked = b == 1 || i == 0 || i == 5 || i == 127 || i == 128 || i == 139;
                    for (int64_t d = 0; d < D; ++d) {
                        const size_t n = size_t(((b * H + h) * T + i) * D + d);
                        EXPECT_TRUE(std::isfinite(out[n]) && std::isfinite(dq[n]) && std::isfinite(dk[n]) &&
                                    std::isfinite(dv[n]));
                        (masked ? masked_out : live_out) += std::fabs(out[n]);
                        if (masked) masked_dq += std::fabs(dq[n]);
                        if (b == 1) masked_dkv += std::fabs(dk[n]) + std::fabs(dv[n]);
                    }
                }
        EXPECT_EQ(masked_out, 0.0) << "fully masked rows must output exactly zero";
        EXPECT_EQ(masked_dq, 0.0) << "fully masked rows must pass zero gradient to q";
        EXPECT_EQ(masked_dkv, 0.0) << "keys no query sees must get zero dK, dV";
        EXPECT_GT(live_out, 0.0);
        EXPECT_TRUE(all_close(fused, run(Path::reference, in, mask, 0.25f), "fully masked rows: fused vs reference"));
        EXPECT_TRUE(all_close(fused, naive_attention(in, mask, 0.25f), "fully masked rows: fused vs float64 loop"));
    }
}

TEST(FusedAttention, HugeLogitsStayFiniteAndExact) {
    // Scores of ±1e4 (and ±2e4) that are exact in f32: q ∈ {0, ±1e4}, k ∈ {0, ±1}, scale 1,
    // so any summation order gives the same scores and both paths must agree to 1e-5.
    const int64_t B = 1, H = 2, T = 150, D = 4;
    Generator gen(12);
    Inputs in = make_inputs(B, H, H, T, T, D, D, 12);
    for (int64_t n = 0; n < in.q.numel(); ++n) in.q.data()[n] = 1e4f * float(int(gen.uniform() * 3) - 1);
    for (int64_t n = 0; n < in.k.numel(); ++n) in.k.data()[n] = float(int(gen.uniform() * 3) - 1) * (n % D == 0);
    for (unsigned bits : {0u, unsigned(kCausal), kCausal | kAdditive}) {
        AttentionMask mask = make_mask(bits, B, H, T, T, 13);
        const Result fused = run(Path::fused, in, mask, 1.f, 2);
        for (const Tensor* t : {&fused.out, &fused.dq, &fused.dk, &fused.dv})
            for (float x : t->to_vector()) ASSERT_TRUE(std::isfinite(x)) << mask_name(bits) << ": non-finite value";
        EXPECT_TRUE(all_close(fused, run(Path::reference, in, mask, 1.f), "±1e4 logits " + mask_name(bits) +
                                                                              ": fused vs reference"));
    }
}

TEST(FusedAttention, TwoPassBackwardEqualsOneSweep) {
    // B·Hkv = 1: with 1 thread one sweep, with 3 threads the two-pass schedule.
    const Inputs in = make_inputs(1, 4, 1, 130, 260, 32, 48, 14);
    const AttentionMask mask = make_mask(kCausal | kBool, 1, 4, 130, 260, 15);
    const Result sweep = run(Path::fused, in, mask, 0.2f, 1), passes = run(Path::fused, in, mask, 0.2f, 3);
    EXPECT_TRUE(all_close(passes, sweep, "two-pass vs one-sweep backward", 1e-6));
}

TEST(FusedAttention, GradientMatchesFiniteDifferences) {
    Generator gen(16);
    const int64_t B = 1, H = 2, Hkv = 1, Tq = 5, Tk = 6, D = 3, Dv = 2;
    AttentionMask mask;
    mask.causal = true;
    mask.additive_mask = Tensor::uniform({Tq, Tk}, gen, -1.f, 1.f);
    const MaskPlan plan(mask, B, H, Tq, Tk);
    const auto f = [&](const std::vector<Tensor>& in) { return fused_attention(in[0], in[1], in[2], plan, 0.5f); };
    const auto r = gradcheck(f, {Tensor::randn({B, H, Tq, D}, gen), Tensor::randn({B, Hkv, Tk, D}, gen),
                                 Tensor::randn({B, Hkv, Tk, Dv}, gen)},
                             1e-2f);
    EXPECT_TRUE(r.ok()) << r.worst;
}

}  // namespace
