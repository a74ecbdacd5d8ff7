// generate/sampler.cpp — greedy, temperature, top-k and top-p sampling (see
// generate/sampler.hpp for the order of the warpers and the draw).
#include "attend/generate/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attend/error.hpp"

namespace attend {

void SamplingOptions::validate() const {
    ATTEND_CHECK(std::isfinite(temperature) && temperature >= 0.f, "temperature must be ≥ 0 (0: greedy), got ",
                 temperature);
    ATTEND_CHECK(top_k >= 0, "top_k must be ≥ 0 (0: off), got ", top_k);
    ATTEND_CHECK(top_p > 0.f && top_p <= 1.f, "top_p must be in (0, 1] (1: off), got ", top_p);
}

namespace {

// The largest finite logit; NaN and +inf are errors, and so is a row of −inf only.
float checked_max(const float* logits, int64_t vocab) {
    ATTEND_CHECK(vocab > 0, "a row of logits needs at least one entry, got vocab=", vocab);
    float m = -INFINITY;
    for (int64_t i = 0; i < vocab; ++i) {
        ATTEND_CHECK(!std::isnan(logits[i]) && logits[i] != INFINITY, "logit ", i, " is ", logits[i],
                     "; the model produced non-finite logits");
        m = std::max(m, logits[i]);
    }
    ATTEND_CHECK(m > -INFINITY, "every one of the ", vocab, " logits is -inf: there is no token to pick");
    return m;
}

struct Candidate {
    int64_t index;
    double p;
};

// More probable first; among equals, the lower index first (so the order is total and the
// result does not depend on the sort's stability).
bool before(const Candidate& a, const Candidate& b) { return a.p > b.p || (a.p == b.p && a.index < b.index); }

// The kept tokens in descending probability, renormalised to sum to 1 (temperature > 0).
std::vector<Candidate> kept_tokens(const float* logits, int64_t vocab, const SamplingOptions& o) {
    const double m = checked_max(logits, vocab);
    // p_i ∝ exp((z_i − m) / T): the shift by the max keeps exp ≤ 1 (−inf logits give 0).
    std::vector<Candidate> c(static_cast<size_t>(vocab));
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) {
        const double p = std::exp((double(logits[i]) - m) / double(o.temperature));
        c[size_t(i)] = {i, p};
        sum += p;
    }
    for (auto& x : c) x.p /= sum;

    // Top-k: only the first k need ordering.
    size_t n = c.size();
    if (o.top_k > 0 && size_t(o.top_k) < n) {
        n = size_t(o.top_k);
        std::partial_sort(c.begin(), c.begin() + std::ptrdiff_t(n), c.end(), before);
        c.resize(n);
        const double kept = std::accumulate(c.begin(), c.end(), 0.0, [](double s, const Candidate& x) { return s + x.p; });
        for (auto& x : c) x.p /= kept;  // top-p sees the top-k distribution renormalised, as HF's warpers chain
    } else {
        std::sort(c.begin(), c.end(), before);
    }
    // Zero-probability tokens (−inf logits, or underflow at tiny T) are never drawn.
    while (c.size() > 1 && c.back().p == 0) c.pop_back();

    // Top-p: keep token j while the mass strictly before it is < P — the smallest prefix whose
    // cumulative probability reaches P, the token that crosses P included.
    if (o.top_p < 1.f) {
        double before_j = 0;
        size_t keep = 0;
        while (keep < c.size() && (keep == 0 || before_j < double(o.top_p))) before_j += c[keep++].p;
        c.resize(keep);
        for (auto& x : c) x.p /= before_j;
    }
    return c;
}

}  // namespace

int64_t argmax(const float* logits, int64_t vocab) {
    checked_max(logits, vocab);
    return int64_t(std::max_element(logits, logits + vocab) - logits);  // the first of equal maxima
}

std::vector<double> sampling_distribution(const float* logits, int64_t vocab, const SamplingOptions& options) {
    options.validate();
    std::vector<double> p(size_t(std::max<int64_t>(vocab, 0)), 0.0);
    if (options.temperature == 0.f) {
        p[size_t(argmax(logits, vocab))] = 1.0;
        return p;
    }
    for (const Candidate& c : kept_tokens(logits, vocab, options)) p[size_t(c.index)] = c.p;
    return p;
}

int64_t sample(const float* logits, int64_t vocab, const SamplingOptions& options, Generator& gen) {
    options.validate();
    if (options.temperature == 0.f) return argmax(logits, vocab);
    const std::vector<Candidate> c = kept_tokens(logits, vocab, options);
    const double u = gen.uniform();  // [0, 1)
    double cumulative = 0;
    for (const Candidate& x : c) {
        cumulative += x.p;
        if (u < cumulative) return x.index;
    }
    return c.back().index;  // u within rounding of 1
}

Sampler::Sampler(const SamplingOptions& options, uint64_t seed) : options_(options), gen_(seed) {
    options_.validate();
}

}  // namespace attend
