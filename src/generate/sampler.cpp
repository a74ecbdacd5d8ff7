// generate/sampler.cpp — greedy, temperature, top-k and top-p sampling (see
// generate/sampler.hpp for the order of the warpers and the draw).
#include "attend/generate/sampler.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numeric>
#include <utility>

#include "attend/error.hpp"
#include "ops/simd.hpp"

namespace attend {

void SamplingOptions::validate() const {
    ATTEND_CHECK(std::isfinite(temperature) && temperature >= 0.f, "temperature must be ≥ 0 (0: greedy), got ",
                 temperature);
    ATTEND_CHECK(top_k >= 0, "top_k must be ≥ 0 (0: off), got ", top_k);
    ATTEND_CHECK(top_p > 0.f && top_p <= 1.f, "top_p must be in (0, 1] (1: off), got ", top_p);
}

namespace {

// The largest logit, and whether any is NaN or +inf (!(z < inf)), in one vectorised pass over
// F's lanes. Written once and compiled on 16 floats as target clones and on 8 for AVX2 + FMA
// (ops/simd.hpp says why: the avx2 clone of a 16-float loop goes through the stack, 13× slower
// over GPT-2's 50,257 logits).
template <class F>
ATTEND_VECTOR_INLINE float max_of_v(const float* logits, int64_t vocab, bool& bad) {
    using I = typename int_vector<F>::type;
    constexpr int64_t L = lanes_of<F>;
    F m = splat_v<F>(-INFINITY);
    I not_finite_below{};
    const F inf = splat_v<F>(INFINITY);
    int64_t i = 0;
    for (; i + L <= vocab; i += L) {
        const F v = load_v<F>(logits + i);
        m = v > m ? v : m;
        not_finite_below |= ~(v < inf);
    }
    float result = horizontal_max(m);
    bad = false;
    for (int64_t l = 0; l < L; ++l) bad |= not_finite_below[l] != 0;
    for (; i < vocab; ++i) {
        result = logits[i] > result ? logits[i] : result;
        bad |= !(logits[i] < INFINITY);
    }
    return result;
}
ATTEND_SIMD_CLONES float max_of_16(const float* logits, int64_t vocab, bool& bad) {
    return max_of_v<f32x16>(logits, vocab, bad);
}
ATTEND_AVX2_FMA float max_of_8(const float* logits, int64_t vocab, bool& bad) {
    return max_of_v<f32x8>(logits, vocab, bad);
}
float max_of(const float* logits, int64_t vocab, bool& bad) {
    return cpu_prefers_avx2_kernels() ? max_of_8(logits, vocab, bad) : max_of_16(logits, vocab, bad);
}

// The largest finite logit; NaN and +inf are errors, and so is a row of −inf only.
float checked_max(const float* logits, int64_t vocab) {
    ATTEND_CHECK(vocab > 0, "a row of logits needs at least one entry, got vocab=", vocab);
    bool bad = false;
    const float m = max_of(logits, vocab, bad);
    if (bad) {  // name the first bad one
        for (int64_t i = 0; i < vocab; ++i)
            ATTEND_CHECK(logits[i] < INFINITY, "logit ", i, " is ", logits[i], "; the model produced non-finite logits");
    }
    ATTEND_CHECK(m > -INFINITY, "every one of the ", vocab, " logits is -inf: there is no token to pick");
    return m;
}

struct Candidate {
    int64_t index;
    double p;
};

// The buffers of one thread's sampling, kept between calls: fresh ones (1.6 MB for GPT-2's
// 50,257 tokens) cost more in page faults each token than the work itself.
struct Scratch {
    std::vector<uint64_t> items, items_out;  // a logit's order key << 32 | its token id
    std::vector<float> e;
    std::vector<Candidate> kept;
};
thread_local Scratch scratch;

// An unsigned key that orders like the float, descending: flip the sign bit of positives and
// every bit of negatives (ascending order as unsigned integers), then complement. (−0 comes
// after +0; their probabilities are equal, so the tie rule below orders them by id.)
uint32_t descending_key(float z) {
    uint32_t bits;
    std::memcpy(&bits, &z, sizeof bits);
    return ~(bits & 0x80000000u ? ~bits : bits | 0x80000000u);
}

// The first n of scratch.items, by descending logit and the lower id first among equal logits: as unsigned
// integers (descending_key(logit) << 32 | id) they sort in exactly that order. Many items: a
// stable LSD radix sort of the keys (three passes of 11 bits; ~0.1 ms for GPT-2's vocabulary,
// where a comparison sort of the candidates took ~3.5 ms — as long as the decode step
// itself); a few (a ranking's head, below): std::sort.
void sort_items(size_t n) {  // the first n of scratch.items
    std::vector<uint64_t>&items = scratch.items, &out = scratch.items_out;
    if (n <= 4096) {
        std::sort(items.begin(), items.begin() + std::ptrdiff_t(n));
        return;
    }
    if (out.size() < n) out.resize(n);
    constexpr int kDigitBits = 11, kPasses = 3;  // 33 bits cover the 32-bit key
    constexpr uint32_t kBins = 1u << kDigitBits;
    std::array<uint32_t, kBins> count;
    for (int pass = 0; pass < kPasses; ++pass) {
        const int shift = 32 + pass * kDigitBits;
        count.fill(0);
        for (size_t i = 0; i < n; ++i) ++count[(items[i] >> shift) & (kBins - 1)];
        if (*std::max_element(count.begin(), count.end()) == n) continue;  // one digit for all: in order already
        uint32_t start = 0;
        for (uint32_t& c : count) start += std::exchange(c, start);
        for (size_t i = 0; i < n; ++i) out[count[(items[i] >> shift) & (kBins - 1)]++] = items[i];
        items.swap(out);
    }
}

// e_i = exp((z_i − m) / T) (ops/simd.hpp's exp_v: relative error ≤ 1e-7; 0 below e^−87.3,
// where the old double exp gave probabilities no draw could reach).
template <class F>
ATTEND_VECTOR_INLINE void exp_of_scaled_v(const float* z, float* e, int64_t n, float m, float temperature) {
    constexpr int64_t L = lanes_of<F>;
    int64_t i = 0;
    for (; i + L <= n; i += L) store_v(e + i, exp_v<F>((load_v<F>(z + i) - m) / temperature, F{}));
    if (i < n)
        store_partial_v(e + i, n - i, exp_v<F>((load_partial_v<F>(z + i, n - i, -INFINITY) - m) / temperature, F{}));
}
ATTEND_SIMD_CLONES void exp_of_scaled_16(const float* z, float* e, int64_t n, float m, float temperature) {
    exp_of_scaled_v<f32x16>(z, e, n, m, temperature);
}
ATTEND_AVX2_FMA void exp_of_scaled_8(const float* z, float* e, int64_t n, float m, float temperature) {
    exp_of_scaled_v<f32x8>(z, e, n, m, temperature);
}
void exp_of_scaled(const float* z, float* e, int64_t n, float m, float temperature) {
    cpu_prefers_avx2_kernels() ? exp_of_scaled_8(z, e, n, m, temperature)
                               : exp_of_scaled_16(z, e, n, m, temperature);
}

// How many e_i ≥ floor (the head's size, below), and whether a drawable token (e > 0) lies
// below the floor; on F's lanes, compiled as the kernels above.
struct HeadSize {
    int64_t size;
    bool complete;  // every token of nonzero probability is in the head
};
template <class F>
ATTEND_VECTOR_INLINE HeadSize head_size_v(const float* e, int64_t n, float floor) {
    using I = typename int_vector<F>::type;
    constexpr int64_t L = lanes_of<F>;
    I in{}, below{};  // per lane: a count (comparisons give −1 where true), and any drawable below
    int64_t i = 0;
    for (; i + L <= n; i += L) {
        const F v = load_v<F>(e + i);
        in -= v >= floor;
        below |= (v > 0.f) & (v < floor);
    }
    HeadSize h{0, true};
    for (int64_t l = 0; l < L; ++l) h.size += in[l], h.complete &= below[l] == 0;
    for (; i < n; ++i) h.size += e[i] >= floor, h.complete &= !(e[i] > 0.f && e[i] < floor);
    return h;
}
ATTEND_SIMD_CLONES HeadSize head_size_16(const float* e, int64_t n, float floor) {
    return head_size_v<f32x16>(e, n, floor);
}
ATTEND_AVX2_FMA HeadSize head_size_8(const float* e, int64_t n, float floor) { return head_size_v<f32x8>(e, n, floor); }
HeadSize head_size(const float* e, int64_t n, float floor) {
    return cpu_prefers_avx2_kernels() ? head_size_8(e, n, floor) : head_size_16(e, n, floor);
}

// A draw rarely reaches far down the ranking, so it first ranks only the head: the tokens with
// e = exp((z − m) / T) ≥ a floor (the max has e = 1). e is a non-decreasing function of the
// logit and equal e fall on one side of a floor, so a head is exactly the first tokens of the
// full ranking, with the same probabilities (p = e / Σ e over every token). Only when the
// decision lies past it — top-k longer than it, top-p or the draw not reached in it — does the
// draw lower the floor, down to 0 (all tokens). GPT-2 small at T = 0.8: ranking every token
// took ~0.9 ms a token.
constexpr float kHeadFloors[] = {1e-4f, 1e-8f, 0.f};

// e_i (scratch.e), their max m and Σ_i e_i for a row of logits: what every ranking of it shares.
struct RowWeights {
    float max;
    double sum;
};
RowWeights weigh_tokens(const float* logits, int64_t vocab, const SamplingOptions& o) {
    const float m = checked_max(logits, vocab);
    ATTEND_CHECK(vocab <= int64_t(UINT32_MAX), "a vocabulary of ", vocab, " tokens is too large to sample from");
    // p_i ∝ exp((z_i − m) / T): the shift by the max keeps exp ≤ 1 (−inf logits give 0).
    scratch.e.resize(size_t(vocab));
    float* e = scratch.e.data();  // a local pointer: scratch is thread_local, each access a TLS lookup
    exp_of_scaled(logits, e, vocab, m, o.temperature);
    double part[4] = {0, 0, 0, 0};  // four chains, not one 50k-long dependent one
    int64_t r = 0;
    for (; r + 4 <= vocab; r += 4)
        for (int l = 0; l < 4; ++l) part[l] += e[r + l];
    for (; r < vocab; ++r) part[0] += e[r];
    return {m, (part[0] + part[1]) + (part[2] + part[3])};
}

// The ranking (weigh_tokens first): scratch.kept holds tokens by descending probability (the
// lower id first among equal probabilities) with p_i = e_i / sum; only those with e ≥ floor
// (floor = 0: all). Returns whether it holds every token of nonzero probability.
bool rank_tokens(const float* logits, int64_t vocab, double sum, float floor) {
    const float* e = scratch.e.data();
    const HeadSize head = head_size(e, vocab, floor);
    const size_t kept = size_t(head.size);
    std::vector<uint64_t>& items = scratch.items;
    if (items.size() < kept) items.resize(kept);
    uint64_t* out = items.data();
    size_t at = 0;
    if (kept == size_t(vocab))  // every token (floor 0, or a flat row)
        for (int64_t i = 0; i < vocab; ++i) out[at++] = uint64_t(descending_key(logits[i])) << 32 | uint64_t(i);
    else  // a head: a branch taken for few tokens, predicted well
        for (int64_t i = 0; i < vocab; ++i)
            if (e[i] >= floor) out[at++] = uint64_t(descending_key(logits[i])) << 32 | uint64_t(i);
    sort_items(kept);
    std::vector<Candidate>& c = scratch.kept;
    c.resize(kept);
    for (size_t i = 0; i < kept; ++i) {
        const uint32_t id = uint32_t(items[i]);
        c[i] = {int64_t(id), double(e[id]) / sum};
    }

    // p is a non-decreasing function of the logit, so the logits' order is p's order except
    // where distinct logits round to one p: such runs are put back in id order below (a run
    // has one e, so it lies wholly inside or outside a head). Zero-probability tokens (−inf
    // logits, or underflow at tiny T) are never drawn; the first token, at the max, has p > 0.
    while (c.size() > 1 && c.back().p == 0) c.pop_back();
    for (size_t run = 0; run < c.size();) {
        size_t end = run + 1;
        while (end < c.size() && c[end].p == c[run].p) ++end;
        if (end - run > 1)
            std::sort(c.begin() + std::ptrdiff_t(run), c.begin() + std::ptrdiff_t(end),
                      [](const Candidate& a, const Candidate& b) { return a.index < b.index; });
        run = end;
    }
    return head.complete;
}

// Top-k, then top-p, on scratch.kept (ranked by rank_tokens), renormalised to sum to 1.
// Returns false, changing nothing, when the ranking is only a head that cannot decide (k past
// its end, or P not reached within it).
bool truncate_ranking(const SamplingOptions& o, bool complete) {
    std::vector<Candidate>& c = scratch.kept;
    // Top-k: the first k.
    if (o.top_k > 0) {
        if (size_t(o.top_k) < c.size()) {
            c.resize(size_t(o.top_k));
            const double kept = std::accumulate(c.begin(), c.end(), 0.0, [](double s, const Candidate& x) { return s + x.p; });
            for (auto& x : c) x.p /= kept;  // top-p sees the top-k distribution renormalised, as HF's warpers chain
            complete = true;                // the top-k distribution is all there
        } else if (!complete) {
            return false;
        }
    }
    // Top-p: keep token j while the mass strictly before it is < P — the smallest prefix whose
    // cumulative probability reaches P, the token that crosses P included.
    if (o.top_p < 1.f) {
        double before_j = 0;
        size_t keep = 0;
        while (keep < c.size() && (keep == 0 || before_j < double(o.top_p))) before_j += c[keep++].p;
        if (before_j < double(o.top_p) && !complete) return false;
        c.resize(keep);
        for (auto& x : c) x.p /= before_j;
    }
    return true;
}

// Every kept token (a sampler's whole distribution), in the order above; valid until the
// thread's next call.
const std::vector<Candidate>& kept_tokens(const float* logits, int64_t vocab, const SamplingOptions& o) {
    const bool complete = rank_tokens(logits, vocab, weigh_tokens(logits, vocab, o).sum, 0.f);
    truncate_ranking(o, complete);
    return scratch.kept;
}

}  // namespace

int64_t argmax(const float* logits, int64_t vocab) {
    const float m = checked_max(logits, vocab);
    return int64_t(std::find(logits, logits + vocab, m) - logits);  // the first of equal maxima
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
    const double u = gen.uniform();  // [0, 1)
    const double sum = weigh_tokens(logits, vocab, options).sum;
    const bool truncated = options.top_k > 0 || options.top_p < 1.f;
    for (const float floor : kHeadFloors) {
        const bool complete = rank_tokens(logits, vocab, sum, floor);
        // Truncated: the kept tokens are all there or the head cannot tell. Not truncated: u may
        // also land past a head (then the next floor).
        if (!truncate_ranking(options, complete)) continue;
        const std::vector<Candidate>& c = scratch.kept;
        double cumulative = 0;
        for (const Candidate& x : c) {
            cumulative += x.p;
            if (u < cumulative) return x.index;
        }
        if (truncated || complete) return c.back().index;  // u within rounding of 1
    }
    ATTEND_CHECK(false, "sample: the ranking of every token did not decide");  // floor 0 always does
    return -1;
}

// log p_i = z_i − m − log Σ_j exp(z_j − m), the sum over e (weigh_tokens at T = 1, vectorised)
// where a scalar double exp per token took ~0.2 ms of GPT-2's 50,257 — a tenth of a served
// int8 decoding step — for every client asking for logprobs. The top n: one pass keeping the
// best n seen in a heap, ordered by descending_key (the logit descending, then the lower id);
// a token whose logit is not above the heap's worst cannot enter (a later equal one has the
// higher id), so most of the row costs one comparison.
double token_logprobs(const float* logits, int64_t vocab, int64_t token, int64_t n, std::vector<TokenLogprob>& top) {
    ATTEND_CHECK(token >= 0 && token < vocab, "token_logprobs: token ", token, " is outside the vocabulary of ",
                 vocab);
    ATTEND_CHECK(n >= 0, "token_logprobs: the number of top tokens must be ≥ 0, got ", n);
    const RowWeights w = weigh_tokens(logits, vocab, SamplingOptions{1.f, 0, 1.f});
    const double log_z = double(w.max) + std::log(w.sum);
    top.clear();
    const size_t k = size_t(std::min(n, vocab));
    if (k > 0) {
        std::vector<uint64_t>& heap = scratch.items;  // the best k so far; the worst on top
        heap.clear();
        heap.reserve(k + 1);  // k kept and the one pushed before the worst is popped
        float worst = -INFINITY;  // the heap's worst logit, once it holds k
        for (int64_t i = 0; i < vocab; ++i) {
            if (heap.size() == k && !(logits[i] > worst)) continue;
            const float z = logits[i] == 0.f ? 0.f : logits[i];  // −0 as +0: equal logits, ordered by id
            heap.push_back(uint64_t(descending_key(z)) << 32 | uint64_t(i));
            std::push_heap(heap.begin(), heap.end());
            if (heap.size() > k) {
                std::pop_heap(heap.begin(), heap.end());
                heap.pop_back();
            }
            if (heap.size() == k) worst = logits[uint32_t(heap.front())];
        }
        std::sort_heap(heap.begin(), heap.end());
        for (const uint64_t item : heap) {
            const uint32_t id = uint32_t(item);
            top.push_back({int64_t(id), double(logits[id]) - log_z});
        }
    }
    return double(logits[token]) - log_z;
}

Sampler::Sampler(const SamplingOptions& options, uint64_t seed) : options_(options), gen_(seed) {
    options_.validate();
}

}  // namespace attend
