// Sampler: the distribution each setting draws from, against distributions worked out by
// hand, and the draws against that distribution.
//
// The hand example: p = (0.05, 0.5, 0.1, 0.2, 0.15) given as logits log p (shuffled so the
// order of the vocabulary is not the order of probability). Sorted: 0.5 (id 1), 0.2 (id 3),
// 0.15 (id 4), 0.1 (id 2), 0.05 (id 0); cumulative 0.5, 0.7, 0.85, 0.95, 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "attend/error.hpp"
#include "attend/generate/sampler.hpp"
#include "attend/random.hpp"

using namespace attend;

namespace {

const std::vector<double> kP = {0.05, 0.5, 0.1, 0.2, 0.15};

std::vector<float> logits_of(const std::vector<double>& p, double shift = 3.0) {
    std::vector<float> z;
    for (double x : p) z.push_back(float(std::log(x) + shift));  // a shift changes nothing
    return z;
}

// Expected: q_i ∝ w_i over `kept`, 0 elsewhere.
std::vector<double> renormalised(const std::vector<double>& w, const std::vector<int>& kept) {
    std::vector<double> q(w.size(), 0.0);
    double s = 0;
    for (int i : kept) s += w[size_t(i)];
    for (int i : kept) q[size_t(i)] = w[size_t(i)] / s;
    return q;
}

void expect_distribution(const std::vector<double>& actual, const std::vector<double>& expected, const char* what) {
    ASSERT_EQ(actual.size(), expected.size()) << what;
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-6) << what << ", token " << i;
}

std::vector<double> dist(const std::vector<float>& z, float t, int64_t k, float p) {
    return sampling_distribution(z.data(), int64_t(z.size()), SamplingOptions{t, k, p});
}

// A row of GPT-2's vocabulary size with what a ranking must get right: repeated logits, −0 and
// +0, masked tokens (−inf) and two equal maxima.
std::vector<float> gpt2_sized_row() {
    const int64_t V = 50257;
    Generator data(11);
    std::vector<float> z(static_cast<size_t>(V));
    for (auto& x : z) x = data.normal(0.f, 2.5f);
    for (int64_t i = 0; i < V; i += 97) z[size_t(i)] = z[size_t((i * 7919) % V)];  // repeats
    for (int64_t i = 5; i < V; i += 1009) z[size_t(i)] = -INFINITY;
    z[100] = 0.f, z[200] = -0.f, z[300] = 0.f;
    z[40000] = z[40001] = 12.f;  // two equal maxima
    z[3] = 11.f;
    return z;
}

}  // namespace

TEST(Sampler, TemperatureOneIsTheSoftmax) {
    expect_distribution(dist(logits_of(kP), 1.f, 0, 1.f), kP, "T=1");
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
    // T = 0.5: p_i^2 renormalised; T = 2: sqrt(p_i) renormalised.
    std::vector<double> sq, rt;
    for (double x : kP) sq.push_back(x * x), rt.push_back(std::sqrt(x));
    expect_distribution(dist(logits_of(kP), 0.5f, 0, 1.f), renormalised(sq, {0, 1, 2, 3, 4}), "T=0.5");
    expect_distribution(dist(logits_of(kP), 2.f, 0, 1.f), renormalised(rt, {0, 1, 2, 3, 4}), "T=2");
}

TEST(Sampler, GreedyIsTheArgmaxAndTopKOne) {
    const auto z = logits_of(kP);
    expect_distribution(dist(z, 0.f, 0, 1.f), {0, 1, 0, 0, 0}, "T=0");
    expect_distribution(dist(z, 1.f, 1, 1.f), {0, 1, 0, 0, 0}, "top-k 1");
    // On many random rows, top-k = 1 at any temperature draws exactly the argmax.
    Generator data(7), draws(8);
    for (int row = 0; row < 200; ++row) {
        std::vector<float> r(97);
        for (auto& x : r) x = data.normal(0.f, 3.f);
        const int64_t best = argmax(r.data(), 97);
        EXPECT_EQ(sample(r.data(), 97, {0.f, 0, 1.f}, draws), best);
        EXPECT_EQ(sample(r.data(), 97, {1.7f, 1, 1.f}, draws), best);
        EXPECT_EQ(sample(r.data(), 97, {0.8f, 0, 1e-6f}, draws), best);  // top-p that keeps one token
    }
    // Equal maxima: the lowest index.
    const std::vector<float> tie = {1.f, 4.f, 2.f, 4.f};
    EXPECT_EQ(argmax(tie.data(), 4), 1);
}

TEST(Sampler, TopKKeepsTheKMostProbable) {
    const auto z = logits_of(kP);
    expect_distribution(dist(z, 1.f, 2, 1.f), renormalised(kP, {1, 3}), "top-k 2");
    expect_distribution(dist(z, 1.f, 3, 1.f), renormalised(kP, {1, 3, 4}), "top-k 3");
    expect_distribution(dist(z, 1.f, 5, 1.f), kP, "top-k = vocab");
    expect_distribution(dist(z, 1.f, 50, 1.f), kP, "top-k > vocab");
    // With temperature 2 first: sqrt(p) over the top two.
    expect_distribution(dist(z, 2.f, 2, 1.f), renormalised({0, std::sqrt(0.5), 0, std::sqrt(0.2), 0}, {1, 3}),
                        "T=2, top-k 2");
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
    const auto z = logits_of(kP);
    // Cumulative 0.5, 0.7, 0.85, 0.95, 1 in descending order of probability.
    expect_distribution(dist(z, 1.f, 0, 0.4f), renormalised(kP, {1}), "top-p 0.4");
    expect_distribution(dist(z, 1.f, 0, 0.6f), renormalised(kP, {1, 3}), "top-p 0.6");
    expect_distribution(dist(z, 1.f, 0, 0.75f), renormalised(kP, {1, 3, 4}), "top-p 0.75");
    expect_distribution(dist(z, 1.f, 0, 0.9f), renormalised(kP, {1, 3, 4, 2}), "top-p 0.9");
    expect_distribution(dist(z, 1.f, 0, 0.99f), kP, "top-p 0.99");
    // Top-p applies after temperature: at T = 0.5 the probabilities are p²/Σp² =
    // (0.0074, 0.7353, 0.0294, 0.1176, 0.0662); 0.8 then needs the two most probable only.
    std::vector<double> sq;
    for (double x : kP) sq.push_back(x * x);
    expect_distribution(dist(z, 0.5f, 0, 0.8f), renormalised(sq, {1, 3}), "T=0.5, top-p 0.8");
}

TEST(Sampler, TopPAppliesToTheTopKDistribution) {
    const auto z = logits_of(kP);
    // Top-k 3 renormalises to (0.588, 0.235, 0.176): the first two already reach 0.8235 ≥ 0.8.
    expect_distribution(dist(z, 1.f, 3, 0.8f), renormalised(kP, {1, 3}), "top-k 3, top-p 0.8");
    // Top-p 0.8 alone needs three (0.5 + 0.2 = 0.7 < 0.8).
    expect_distribution(dist(z, 1.f, 0, 0.8f), renormalised(kP, {1, 3, 4}), "top-p 0.8");
}

TEST(Sampler, MaskedTokensAreNeverDrawn) {
    std::vector<float> z = logits_of(kP);
    z[1] = -INFINITY;  // the most probable token, masked
    expect_distribution(dist(z, 1.f, 0, 1.f), renormalised(kP, {0, 2, 3, 4}), "masked");
    expect_distribution(dist(z, 1.f, 10, 0.999f), renormalised(kP, {0, 2, 3, 4}), "masked, top-k past the finite ones");
    Generator gen(3);
    for (int i = 0; i < 2000; ++i) EXPECT_NE(sample(z.data(), 5, {1.f, 0, 1.f}, gen), 1);
}

// Sampling frequencies match the renormalised distribution: for each token, the count over
// N draws is Binomial(N, q); allow 5 standard deviations (a false alarm ~1e-6 per token),
// and never a token outside the kept set.
TEST(Sampler, FrequenciesMatchTheDistribution) {
    const auto z = logits_of(kP);
    const int N = 40000;
    for (SamplingOptions o : {SamplingOptions{1.f, 0, 1.f}, SamplingOptions{1.f, 3, 1.f},
                              SamplingOptions{0.7f, 0, 0.9f}, SamplingOptions{2.f, 4, 0.8f}}) {
        const std::vector<double> q = sampling_distribution(z.data(), 5, o);
        Generator gen(12345);
        std::vector<int> counts(5, 0);
        for (int i = 0; i < N; ++i) ++counts[size_t(sample(z.data(), 5, o, gen))];
        for (size_t i = 0; i < 5; ++i) {
            const double mean = N * q[i], sd = std::sqrt(N * q[i] * (1 - q[i]));
            if (q[i] == 0) {
                EXPECT_EQ(counts[i], 0) << "token " << i << " is outside the kept set (T=" << o.temperature
                                        << " k=" << o.top_k << " p=" << o.top_p << ")";
            } else {
                EXPECT_LE(std::abs(counts[i] - mean), 5 * sd)
                    << "token " << i << ": " << counts[i] << " draws, expected " << mean << " ± " << sd << " (T="
                    << o.temperature << " k=" << o.top_k << " p=" << o.top_p << ")";
            }
        }
    }
}

TEST(Sampler, ASeedFixesTheDraws) {
    Generator data(1);
    std::vector<float> z(300);
    for (auto& x : z) x = data.normal();
    auto run = [&](uint64_t seed) {
        Sampler s({0.9f, 40, 0.95f}, seed);
        std::vector<int64_t> out;
        for (int i = 0; i < 64; ++i) out.push_back(s(z.data(), 300));
        return out;
    };
    EXPECT_EQ(run(42), run(42));
    EXPECT_NE(run(42), run(43));
}

// GPT-2's vocabulary, against a comparison sort of the candidates in double precision (the
// sampler sorts by a radix sort of the logits and takes exp in float): the same kept set at
// every setting, probabilities within 1e-6, and the same draws from the same uniforms. The
// row has repeated logits, −0 and +0, and masked tokens.
TEST(Sampler, GPT2SizedRowsMatchAComparisonSort) {
    const std::vector<float> z = gpt2_sized_row();
    const int64_t V = int64_t(z.size());

    struct Ref {
        int64_t id;
        double p;
    };
    auto reference = [&](const SamplingOptions& o) {
        const double m = *std::max_element(z.begin(), z.end());
        std::vector<Ref> c;
        double sum = 0;
        for (int64_t i = 0; i < V; ++i) {
            const double p = std::exp((double(z[size_t(i)]) - m) / o.temperature);
            sum += p;
            if (p > 0) c.push_back({i, p});
        }
        for (auto& x : c) x.p /= sum;
        std::sort(c.begin(), c.end(), [](const Ref& a, const Ref& b) { return a.p > b.p || (a.p == b.p && a.id < b.id); });
        if (o.top_k > 0 && size_t(o.top_k) < c.size()) c.resize(size_t(o.top_k));
        double kept = 0;
        for (auto& x : c) kept += x.p;
        for (auto& x : c) x.p /= kept;
        if (o.top_p < 1.f) {
            double before = 0;
            size_t keep = 0;
            while (keep < c.size() && (keep == 0 || before < o.top_p)) before += c[keep++].p;
            // The data keep the cut away from P: a rounding cannot move it.
            EXPECT_GT(std::abs(before - c[keep - 1].p - o.top_p), 1e-5) << "the test's data sit on the top-p cut";
            c.resize(keep);
            for (auto& x : c) x.p /= before;
        }
        return c;
    };
    // A draw ranks only the head of the distribution first (e ≥ 1e-4 of the max's, then 1e-8,
    // then all): T = 1 puts ~13% of the tokens in the first head and most draws past it; top-k
    // 3000 at T = 0.2 is longer than the first two heads; T = 0.05 and top-p 0.99 decide in it.
    for (SamplingOptions o : {SamplingOptions{1.f, 0, 1.f}, SamplingOptions{1.f, 0, 0.9f}, SamplingOptions{0.7f, 40, 1.f},
                              SamplingOptions{1.3f, 50, 0.95f}, SamplingOptions{0.05f, 0, 0.99f},
                              SamplingOptions{0.2f, 3000, 1.f}, SamplingOptions{0.3f, 500, 0.9f}}) {
        const std::string what = "T=" + std::to_string(o.temperature) + " k=" + std::to_string(o.top_k) +
                                 " p=" + std::to_string(o.top_p);
        const std::vector<Ref> ref = reference(o);
        const std::vector<double> got = sampling_distribution(z.data(), V, o);
        std::vector<double> expected(size_t(V), 0.0);
        for (const Ref& r : ref) expected[size_t(r.id)] = r.p;
        int64_t kept = 0;
        for (int64_t i = 0; i < V; ++i) {
            kept += got[size_t(i)] > 0;
            ASSERT_EQ(got[size_t(i)] > 0, expected[size_t(i)] > 0) << what << ", token " << i;
            ASSERT_NEAR(got[size_t(i)], expected[size_t(i)], 1e-6 * std::max(1.0, expected[size_t(i)] * V)) << what;
        }
        EXPECT_EQ(kept, int64_t(ref.size())) << what;
        // Draws: the same uniform walks the kept tokens in the same order.
        Generator g(99), u_only(99);
        for (int d = 0; d < 300; ++d) {
            const double u = u_only.uniform();
            double cumulative = 0;
            int64_t want = ref.back().id;
            for (const Ref& r : ref)
                if (u < (cumulative += r.p)) {
                    want = r.id;
                    break;
                }
            ASSERT_EQ(sample(z.data(), V, o, g), want) << what << ", draw " << d;
        }
    }
}

// A draw ranks the head of the distribution first (the tokens with e = exp((z − m)/T) ≥ 1e-4
// of the max's, then 1e-8, then all). Here the head is one token and the other 50,256 (e =
// 9.1e-5 each) hold 82% of the mass: top-k 5000, top-p 0.9 and a plain draw must all go past
// it. Every draw equals the walk of sampling_distribution (which ranks all tokens) in
// descending probability, lower id first, with the same uniforms.
TEST(Sampler, DrawsPastTheHeadOfTheRankingWalkEveryToken) {
    const int64_t V = 50257;
    std::vector<float> z(size_t(V), -9.3f);
    z[7] = 0.f;
    for (SamplingOptions o : {SamplingOptions{1.f, 5000, 1.f}, SamplingOptions{1.f, 0, 0.9f}, SamplingOptions{1.f, 0, 1.f}}) {
        const std::vector<double> p = sampling_distribution(z.data(), V, o);
        std::vector<int64_t> order(static_cast<size_t>(V));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[size_t(a)] > p[size_t(b)]; });
        Generator g(5), u_only(5);
        int64_t past_the_head = 0;
        for (int d = 0; d < 400; ++d) {
            const double u = u_only.uniform();
            double cumulative = 0;
            int64_t want = -1;
            for (int64_t id : order)
                if (p[size_t(id)] > 0 && u < (cumulative += p[size_t(id)])) {
                    want = id;
                    break;
                }
            ASSERT_GE(want, 0);
            past_the_head += want != 7;
            ASSERT_EQ(sample(z.data(), V, o, g), want) << "top_k " << o.top_k << " top_p " << o.top_p << ", draw " << d;
        }
        EXPECT_GT(past_the_head, 80) << "top_k " << o.top_k << " top_p " << o.top_p;  // the test reaches past the head
    }
}

// Distinct logits whose probabilities round to one float are ties like equal logits: the
// lower id comes first. At T = 1e6, logits 1e-5 apart differ by ~1e-11 after scaling, and
// every exp is 1.
TEST(Sampler, EqualProbabilitiesFromDistinctLogitsKeepTheLowerIds) {
    std::vector<float> z(1000);
    for (size_t i = 0; i < z.size(); ++i) z[i] = float(i) * 1e-5f;  // ascending: the highest id has the top logit
    const std::vector<double> q = dist(z, 1e6f, 10, 1.f);
    for (size_t i = 0; i < z.size(); ++i) EXPECT_DOUBLE_EQ(q[i], i < 10 ? 0.1 : 0.0) << "token " << i;
    // −0 and +0 are equal logits too.
    const std::vector<float> zeros = {-1.f, -0.f, 0.f, -0.f, -2.f};
    expect_distribution(dist(zeros, 1.f, 1, 1.f), {0, 1, 0, 0, 0}, "−0 first");
}

TEST(Sampler, BadInputsAreErrors) {
    const auto z = logits_of(kP);
    Generator gen;
    EXPECT_THROW(sample(z.data(), 5, {-1.f, 0, 1.f}, gen), Error);
    EXPECT_THROW(sample(z.data(), 5, {1.f, -2, 1.f}, gen), Error);
    EXPECT_THROW(sample(z.data(), 5, {1.f, 0, 0.f}, gen), Error);
    EXPECT_THROW(sample(z.data(), 5, {1.f, 0, 1.5f}, gen), Error);
    EXPECT_THROW(Sampler({NAN, 0, 1.f}), Error);
    std::vector<float> bad = z;
    bad[2] = NAN;
    EXPECT_THROW(sample(bad.data(), 5, {1.f, 0, 1.f}, gen), Error);
    EXPECT_THROW(argmax(bad.data(), 5), Error);
    // In a row long enough for the vectorised pass, the message names the entry.
    std::vector<float> long_row(100, 0.5f);
    for (size_t at : {size_t(37), size_t(98)}) {
        for (float x : {NAN, INFINITY}) {
            long_row[at] = x;
            try {
                sample(long_row.data(), 100, {1.f, 0, 1.f}, gen);
                ADD_FAILURE() << "no error for logit " << at << " = " << x;
            } catch (const Error& e) {
                EXPECT_NE(std::string(e.what()).find("logit " + std::to_string(at) + " is"), std::string::npos) << e.what();
            }
            long_row[at] = 0.5f;
        }
    }
    long_row[60] = -INFINITY;  // masked is fine
    EXPECT_EQ(argmax(long_row.data(), 100), 0);
    const std::vector<float> masked(4, -INFINITY);
    EXPECT_THROW(sample(masked.data(), 4, {0.f, 0, 1.f}, gen), Error);
    EXPECT_THROW(sample(masked.data(), 4, {1.f, 0, 1.f}, gen), Error);
}

// token_logprobs against log softmax in double and a comparison sort of the whole row (logit
// descending, lower id first): GPT-2's vocabulary with repeated logits, −0 and +0, masked
// tokens and two equal maxima (gpt2_sized_row); ascending logits (every token enters the top, the heap's worst
// case); zeros of both signs at the top; n = 0, 1, 5, 20, and n past the vocabulary (all tokens).
TEST(Sampler, TokenLogprobsAreTheLogSoftmaxAndItsHead) {
    std::vector<float> z = gpt2_sized_row();
    const int64_t V = int64_t(z.size());
    std::vector<float> rising(300);
    for (size_t i = 0; i < rising.size(); ++i) rising[i] = float(i % 150) * 0.01f;  // each value twice

    std::vector<float> zeros = {-1.f, -0.f, 0.f, -0.f, -2.f, 0.f};  // −0 and +0 are equal logits

    for (const std::vector<float>* row : {&z, &rising, &zeros}) {
        const int64_t n_tokens = int64_t(row->size());
        const float* r = row->data();
        const double m = *std::max_element(row->begin(), row->end());
        double sum = 0;
        for (int64_t i = 0; i < n_tokens; ++i) sum += std::exp(double(r[i]) - m);
        const double log_z = m + std::log(sum);
        std::vector<int64_t> order(static_cast<size_t>(n_tokens));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return r[a] > r[b]; });
        for (int64_t n : {int64_t(0), int64_t(1), int64_t(5), int64_t(20), n_tokens + 3}) {
            std::vector<TokenLogprob> top = {{-1, 0.0}};  // cleared first
            const int64_t token = (n * 977 + 3) % n_tokens;
            const double lp = token_logprobs(r, n_tokens, token, n, top);
            EXPECT_NEAR(lp, double(r[token]) - log_z, 1e-6) << "n " << n << ", token " << token;
            ASSERT_EQ(int64_t(top.size()), std::min(n, n_tokens)) << "n " << n;
            for (size_t i = 0; i < top.size(); ++i) {
                ASSERT_EQ(top[i].token, order[i]) << "n " << n << ", rank " << i;
                if (std::isinf(r[order[i]]))
                    EXPECT_EQ(top[i].logprob, -INFINITY);
                else
                    EXPECT_NEAR(top[i].logprob, double(r[order[i]]) - log_z, 1e-6) << "n " << n << ", rank " << i;
            }
        }
    }
    std::vector<TokenLogprob> top;
    EXPECT_THROW(token_logprobs(z.data(), V, V, 3, top), Error);
    EXPECT_THROW(token_logprobs(z.data(), V, -1, 3, top), Error);
    EXPECT_THROW(token_logprobs(z.data(), V, 0, -1, top), Error);
    z[777] = NAN;
    EXPECT_THROW(token_logprobs(z.data(), V, 0, 3, top), Error);
}
