// Beam search and greedy decoding of an encoder–decoder (generate/beam_search.hpp), and the
// KV cache's row reordering they rely on.
//
// The oracle is the model itself run without a cache: the log-probability of a target is
// recomputed by one teacher-forced full forward pass (Transformer::forward(src, tgt)), and for
// short lengths every possible target is enumerated and scored. So a cache row that followed
// the wrong beam, a wrong length penalty or a pruning bug all show up as a mismatch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/generate/beam_search.hpp"
#include "attend/ops.hpp"
#include "attend/train/trainer.hpp"

namespace attend {
namespace {

constexpr int64_t kPad = 0, kBos = 1, kEos = 2;

// A tiny random encoder–decoder over {pad, bos, eos, a, b, c} with peaked distributions
// (init_std 1 instead of 1/√E), so beams genuinely compete.
Transformer tiny_model(uint64_t seed, int64_t vocab = 6) {
    TrainOptions o;
    o.arch = TrainArch::seq2seq;
    o.layers = 2, o.heads = 2, o.dim = 16, o.block_size = 12;
    TransformerConfig c = training_config(o, vocab);
    c.init_std = 0.7f;
    return Transformer(c, seed);
}

// log p(y [eos]) (finished) or log p(y) (not), by one full teacher-forced pass.
double sequence_log_prob(const Transformer& model, const std::vector<int64_t>& source, const std::vector<int64_t>& y,
                         bool finished) {
    NoGradGuard no_grad;
    TokenBatch src, tgt;
    src.ids = source, src.shape = {1, int64_t(source.size())};
    tgt.ids = {kBos};
    tgt.ids.insert(tgt.ids.end(), y.begin(), y.end());
    tgt.shape = {1, int64_t(tgt.ids.size())};
    ForwardMode mode;
    mode.attention_path = AttentionPath::reference;
    const Tensor lp = log_softmax(model.forward(src, tgt, mode), -1).contiguous();  // (1, T, V)
    const int64_t V = lp.size(2);
    double total = 0;
    for (size_t t = 0; t < y.size(); ++t) total += lp.data()[int64_t(t) * V + y[t]];
    if (finished) total += lp.data()[int64_t(y.size()) * V + kEos];
    return total;
}

BeamSearchOptions options(int64_t width, float alpha, int64_t max_length, int64_t n_best = 1) {
    BeamSearchOptions o;
    o.bos = kBos, o.eos = kEos;
    o.suppress = {kPad, kBos};
    o.max_length = max_length;
    o.beam_width = width;
    o.length_penalty = alpha;
    o.n_best = n_best;
    return o;
}

const std::vector<std::vector<int64_t>> kSources = {{3, 4, 5, 3}, {5}, {4, 4, 3, 5, 5, 4, 3}, {3, 5}, {5, 3, 4}};

TEST(BeamSearch, LengthPenaltyIsGnmt) {
    EXPECT_FLOAT_EQ(gnmt_length_penalty(1, 0.f), 1.f);
    EXPECT_FLOAT_EQ(gnmt_length_penalty(1, 0.6f), 1.f);  // (5 + 1) / 6 = 1
    EXPECT_NEAR(gnmt_length_penalty(7, 0.6f), std::pow(2.0, 0.6), 1e-6);
    EXPECT_NEAR(gnmt_length_penalty(10, 1.f), 2.5, 1e-6);
}

TEST(BeamSearch, WidthOneIsGreedy) {
    for (uint64_t seed : {1, 2, 3}) {
        const Transformer model = tiny_model(seed);
        for (float alpha : {0.f, 0.6f, 1.f}) {
            BeamSearchOptions o = options(1, alpha, 10);
            const auto greedy = greedy_decode(model, kSources, o);
            const auto beams = beam_search(model, kSources, o);
            ASSERT_EQ(beams.size(), kSources.size());
            for (size_t i = 0; i < kSources.size(); ++i) {
                ASSERT_EQ(beams[i].size(), 1u);
                EXPECT_EQ(beams[i][0].tokens, greedy[i]) << "seed " << seed << " alpha " << alpha << " source " << i;
            }
        }
    }
}

TEST(BeamSearch, GreedyFollowsTheFullForwardArgmax) {
    // Without a cache: append the argmax of a full pass until EOS.
    const Transformer model = tiny_model(4);
    const BeamSearchOptions o = options(1, 0.f, 9);
    const auto greedy = greedy_decode(model, kSources, o);
    NoGradGuard no_grad;
    for (size_t i = 0; i < kSources.size(); ++i) {
        std::vector<int64_t> y;
        for (int64_t t = 0; t < o.max_length; ++t) {
            TokenBatch src, tgt;
            src.ids = kSources[i], src.shape = {1, int64_t(kSources[i].size())};
            tgt.ids = {kBos};
            tgt.ids.insert(tgt.ids.end(), y.begin(), y.end());
            tgt.shape = {1, int64_t(tgt.ids.size())};
            const Tensor logits = model.forward(src, tgt).contiguous();  // (1, T, V)
            const int64_t V = logits.size(2);
            const float* row = logits.data() + (tgt.shape[1] - 1) * V;
            int64_t best = -1;
            for (int64_t v = 0; v < V; ++v)
                if (v != kPad && v != kBos && (best < 0 || row[v] > row[best])) best = v;
            if (best == kEos) break;
            y.push_back(best);
        }
        EXPECT_EQ(greedy[i], y) << "source " << i;
    }
}

// Every target over {eos, a, b, c} of at most max_length tokens: those ending in EOS, and
// the max_length-long ones without (unfinished), each with its exact score.
struct Scored {
    std::vector<int64_t> tokens;
    bool finished;
    double log_prob, score;
};
std::vector<Scored> enumerate_all(const Transformer& model, const std::vector<int64_t>& source, int64_t max_length,
                                  int64_t vocab) {
    std::vector<Scored> all;
    std::function<void(std::vector<int64_t>&)> grow = [&](std::vector<int64_t>& y) {
        const int64_t len_with_eos = int64_t(y.size()) + 1;
        if (len_with_eos <= max_length) {
            const double lp = sequence_log_prob(model, source, y, true);
            all.push_back({y, true, lp, 0});
        }
        if (int64_t(y.size()) == max_length) {
            const double lp = sequence_log_prob(model, source, y, false);
            all.push_back({y, false, lp, 0});
            return;
        }
        for (int64_t v = 3; v < vocab; ++v) {
            y.push_back(v);
            grow(y);
            y.pop_back();
        }
    };
    std::vector<int64_t> y;
    grow(y);
    return all;
}

// The enumeration scored with length penalty α, best first.
std::vector<Scored> ranked(std::vector<Scored> all, float alpha) {
    for (Scored& s : all)
        s.score = s.log_prob / gnmt_length_penalty(int64_t(s.tokens.size()) + (s.finished ? 1 : 0), alpha);
    std::stable_sort(all.begin(), all.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });
    return all;
}

TEST(BeamSearch, WideBeamFindsTheExhaustiveOptimumAndNBest) {
    // 3 real tokens, max_length 3: 1 + 3 + 9 finished targets and 27 unfinished = 40 < width 64,
    // so nothing is pruned and the n-best must be exactly the enumeration's top.
    const int64_t max_length = 3, vocab = 6;
    for (uint64_t seed : {5, 6}) {
        const Transformer model = tiny_model(seed, vocab);
        std::vector<std::vector<Scored>> enumerated;
        for (const auto& source : kSources) enumerated.push_back(enumerate_all(model, source, max_length, vocab));
        for (float alpha : {0.f, 0.6f, 1.5f}) {
            for (bool early : {true, false}) {
                BeamSearchOptions o = options(64, alpha, max_length, 6);
                o.early_stopping = early;
                const auto result = beam_search(model, kSources, o);
                for (size_t i = 0; i < kSources.size(); ++i) {
                    const auto all = ranked(enumerated[i], alpha);
                    ASSERT_EQ(result[i].size(), 6u);
                    for (size_t r = 0; r < 6; ++r) {
                        const Hypothesis& h = result[i][r];
                        SCOPED_TRACE("seed " + std::to_string(seed) + " alpha " + std::to_string(alpha) + " source " +
                                     std::to_string(i) + " rank " + std::to_string(r));
                        EXPECT_NEAR(h.score, all[r].score, 1e-4);
                        // Same sequence unless two scores tie to rounding.
                        if (r + 1 < all.size() && all[r].score - all[r + 1].score > 1e-4 &&
                            (r == 0 || all[r - 1].score - all[r].score > 1e-4)) {
                            EXPECT_EQ(h.tokens, all[r].tokens);
                            EXPECT_EQ(h.finished, all[r].finished);
                        }
                    }
                }
            }
        }
    }
}

TEST(BeamSearch, NBestIsSortedAndScoresAreTheModelsLogProbabilities) {
    // A narrow beam re-ranks and reorders the cache rows at every step; each returned
    // hypothesis's log-probability must still equal a cache-free teacher-forced pass.
    const Transformer model = tiny_model(7);
    for (float alpha : {0.f, 0.6f}) {
        BeamSearchOptions o = options(4, alpha, 8, 4);
        o.early_stopping = false;
        const auto result = beam_search(model, kSources, o);
        for (size_t i = 0; i < kSources.size(); ++i) {
            ASSERT_FALSE(result[i].empty());
            for (size_t r = 0; r < result[i].size(); ++r) {
                const Hypothesis& h = result[i][r];
                if (r > 0) {
                    EXPECT_GE(result[i][r - 1].score, h.score) << "source " << i << " rank " << r;
                }
                const int64_t len = int64_t(h.tokens.size()) + (h.finished ? 1 : 0);
                EXPECT_NEAR(h.score, h.log_prob / gnmt_length_penalty(len, alpha), 1e-5);
                EXPECT_NEAR(h.log_prob, sequence_log_prob(model, kSources[i], h.tokens, h.finished), 2e-4)
                    << "source " << i << " rank " << r;
                if (!h.finished) {
                    EXPECT_EQ(int64_t(h.tokens.size()), o.max_length);
                }
            }
        }
    }
}

TEST(BeamSearch, ASourceDecodesTheSameAloneAsInABatch) {
    const Transformer model = tiny_model(8);
    BeamSearchOptions o = options(3, 0.6f, 8, 3);
    o.batch_size = 64;
    const auto together = beam_search(model, kSources, o);
    o.batch_size = 2;  // and split into batches of 2
    const auto split = beam_search(model, kSources, o);
    for (size_t i = 0; i < kSources.size(); ++i) {
        const auto alone = beam_search(model, {kSources[i]}, o)[0];
        ASSERT_EQ(alone.size(), together[i].size());
        for (size_t r = 0; r < alone.size(); ++r) {
            EXPECT_EQ(alone[r].tokens, together[i][r].tokens) << "source " << i;
            EXPECT_EQ(alone[r].tokens, split[i][r].tokens) << "source " << i;
            EXPECT_NEAR(alone[r].score, together[i][r].score, 1e-4);
        }
    }
}

TEST(BeamSearch, RejectsBadOptions) {
    const Transformer model = tiny_model(9);
    EXPECT_THROW(beam_search(model, kSources, options(2, 0.f, 8, 3)), Error);   // n_best > width
    EXPECT_THROW(beam_search(model, kSources, options(0, 0.f, 8, 1)), Error);   // width 0
    EXPECT_THROW(beam_search(model, kSources, options(2, 0.f, 99, 1)), Error);  // past max_positions
    EXPECT_THROW(greedy_decode(model, {{}}, options(1, 0.f, 8)), Error);        // empty source
    TrainOptions t;
    t.arch = TrainArch::gpt, t.layers = 1, t.heads = 2, t.dim = 8, t.block_size = 8;
    const Transformer gpt(training_config(t, 6), 0);
    EXPECT_THROW(greedy_decode(gpt, kSources, options(1, 0.f, 4)), Error);       // not encoder–decoder
}

TEST(KVCacheReorder, RowsFollowTheirSources) {
    KVCache cache(2, 3, 1, 2, 4);  // 2 layers, 3 sequences, 1 head of 2, capacity 4
    cache.begin_step(2, {2, 1, 2});
    for (int64_t l = 0; l < 2; ++l) {
        std::vector<float> k(3 * 2 * 2), v(3 * 2 * 2);
        for (size_t i = 0; i < k.size(); ++i) k[i] = float(100 * l + i), v[i] = -float(100 * l + i);
        cache.append(l, Tensor::from_vector({3, 1, 2, 2}, k), Tensor::from_vector({3, 1, 2, 2}, v));
        cache.set_cross(l, Tensor::from_vector({3, 1, 1, 2}, {0, 1, 10, 11, 20, 21}),
                        Tensor::from_vector({3, 1, 1, 2}, {0, 1, 10, 11, 20, 21}));
    }
    cache.end_step();
    const Tensor k1_before = cache.k(1).clone(), v0_before = cache.v(0).clone();  // reorder moves rows in place
    cache.reorder({2, 0, 0});
    EXPECT_EQ(cache.lengths(), (std::vector<int64_t>{2, 2, 2}));
    const Tensor k1 = cache.k(1).contiguous(), v0 = cache.v(0).contiguous();
    const int64_t row = 1 * 4 * 2, held = 2 * 2;  // Hkv · capacity · Dh; the filled positions' values
    for (int64_t j = 0; j < held; ++j) {
        EXPECT_EQ(k1.data()[0 * row + j], k1_before.data()[2 * row + j]);
        EXPECT_EQ(k1.data()[1 * row + j], k1_before.data()[0 * row + j]);
        EXPECT_EQ(k1.data()[2 * row + j], k1_before.data()[0 * row + j]);
        EXPECT_EQ(v0.data()[0 * row + j], v0_before.data()[2 * row + j]);
        EXPECT_EQ(v0.data()[2 * row + j], v0_before.data()[0 * row + j]);
    }
    EXPECT_EQ(cache.cross_k(0).at({0, 0, 0, 1}), 21.f);
    EXPECT_EQ(cache.cross_v(1).at({2, 0, 0, 0}), 0.f);
    // A permutation (each row read and overwritten), the cross memory kept where it is.
    const Tensor k0_before = cache.k(0).clone();
    cache.reorder({1, 2, 0}, KVCache::CrossMemory::keep);
    const Tensor k0 = cache.k(0).contiguous();
    for (int64_t b = 0; b < 3; ++b)
        for (int64_t j = 0; j < held; ++j)
            EXPECT_EQ(k0.data()[b * row + j], k0_before.data()[((b + 1) % 3) * row + j]) << "row " << b;
    EXPECT_EQ(cache.cross_k(0).at({0, 0, 0, 1}), 21.f);
    EXPECT_EQ(cache.cross_v(1).at({2, 0, 0, 0}), 0.f);
    EXPECT_THROW(cache.reorder({0, 1}), Error);
    EXPECT_THROW(cache.reorder({0, 1, 3}), Error);
}

}  // namespace
}  // namespace attend
