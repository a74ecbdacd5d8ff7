// generate/beam_search.cpp — greedy and beam-search decoding of an encoder–decoder model
// (see generate/beam_search.hpp for the algorithm and its stopping rule).
#include "attend/generate/beam_search.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "attend/autograd.hpp"
#include "attend/buffer_reuse.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"

namespace attend {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void check_decode(const Transformer& model, const std::vector<std::vector<int64_t>>& sources,
                  const Seq2SeqDecodeOptions& o) {
    const TransformerConfig& c = model.config();
    ATTEND_CHECK(c.shape == ModelShape::encoder_decoder, "seq2seq decoding needs an encoder_decoder model, got ",
                 name_of(c.shape));
    ATTEND_CHECK(o.max_length > 0, "max_length must be positive, got ", o.max_length);
    ATTEND_CHECK(c.max_positions <= 0 || o.max_length <= c.max_positions, "max_length ", o.max_length,
                 " exceeds the decoder's ", c.max_positions, " positions");
    ATTEND_CHECK(o.batch_size > 0, "batch_size must be positive, got ", o.batch_size);
    for (int64_t t : {o.bos, o.eos})
        ATTEND_CHECK(t >= 0 && t < c.vocab_size, "special token ", t, " is outside the vocabulary of ", c.vocab_size);
    for (size_t i = 0; i < sources.size(); ++i)
        ATTEND_CHECK(!sources[i].empty() && (c.max_positions <= 0 || int64_t(sources[i].size()) <= c.max_positions),
                     "source ", i, " has ", sources[i].size(), " tokens; it needs 1 to ", c.max_positions);
}

// memory (N, S, E) -> (N·K, S, E): row n·K + k is source n's memory.
Tensor repeat_rows(const Tensor& memory, int64_t K) {
    if (K == 1) return memory;
    const Tensor m = memory.contiguous();
    const int64_t N = m.size(0), row = m.numel() / N;
    Shape shape = m.shape();
    shape[0] = N * K;
    Tensor out = Tensor::zeros(shape);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
            std::memcpy(out.data() + (n * K + k) * row, m.data() + n * row, sizeof(float) * size_t(row));
    return out;
}

// A decoder step's input for R rows, every one starting from bos. The loops then write each
// step's tokens into ids and set lengths[r] ∈ {0, 1} (0: the row adds no key), in place.
TokenBatch first_step(int64_t R, int64_t bos) {
    TokenBatch step;
    step.ids.assign(size_t(R), bos);
    step.shape = {R, 1};
    step.lengths.assign(size_t(R), 1);
    return step;
}

// One decoder step over `step` (first_step); returns log-softmax (R, V).
Tensor step_log_probs(const Transformer& model, KVCache& cache, const TokenBatch& step, const Tensor& memory,
                      const std::vector<int64_t>& memory_lengths, const Seq2SeqDecodeOptions& o) {
    const int64_t R = step.batch();
    ForwardMode mode;
    mode.attention_path = o.attention_path;
    const bool first = !cache.has_cross(0);
    const Tensor logits = model.forward_step(step, cache, first ? memory : Tensor(), memory_lengths, mode);  // (R, 1, V)
    const int64_t V = logits.size(-1);
    Tensor lp = log_softmax(logits.reshape({R, V}), -1).contiguous();
    float* p = lp.data();
    for (int64_t t : o.suppress)
        if (t >= 0 && t < V)
            for (int64_t r = 0; r < R; ++r) p[r * V + t] = kNegInf;
    return lp;
}

}  // namespace

float gnmt_length_penalty(int64_t length, float alpha) {
    return alpha == 0.f ? 1.f : std::pow((5.f + float(length)) / 6.f, alpha);
}

std::vector<std::vector<int64_t>> greedy_decode(const Transformer& model,
                                                const std::vector<std::vector<int64_t>>& sources,
                                                const Seq2SeqDecodeOptions& o) {
    check_decode(model, sources, o);
    NoGradGuard no_grad;
    BufferReuse reuse;  // a step's tensors take the buffers the last step's freed
    std::vector<std::vector<int64_t>> out(sources.size());
    for (std::vector<int64_t>& tokens : out) tokens.reserve(size_t(o.max_length));
    for (size_t first = 0; first < sources.size(); first += size_t(o.batch_size)) {
        const size_t n = std::min(sources.size() - first, size_t(o.batch_size));
        const TokenBatch src = right_padded(std::span(sources).subspan(first, n));
        ForwardMode mode;
        mode.attention_path = o.attention_path;
        const Tensor memory = model.encode(src, mode);  // (N, S, E), once
        KVCache cache = model.make_cache(int64_t(n), o.max_length);
        TokenBatch step = first_step(int64_t(n), o.bos);  // kept across steps: its vectors keep their room
        std::vector<bool> done(n, false);
        for (int64_t t = 0; t < o.max_length; ++t) {
            const Tensor lp = step_log_probs(model, cache, step, memory, src.lengths, o);
            const int64_t V = lp.size(1);
            size_t live = 0;
            for (size_t i = 0; i < n; ++i) {
                if (done[i]) continue;
                const float* row = lp.data() + int64_t(i) * V;
                const int64_t best = std::max_element(row, row + V) - row;
                if (best == o.eos) {
                    done[i] = true, step.lengths[i] = 0;  // a finished row takes no more cache slots
                    continue;
                }
                out[first + i].push_back(best);
                step.ids[i] = best;
                ++live;
            }
            if (o.on_step) o.on_step(t);
            if (live == 0) break;
        }
    }
    return out;
}

std::vector<std::vector<Hypothesis>> beam_search(const Transformer& model,
                                                 const std::vector<std::vector<int64_t>>& sources,
                                                 const BeamSearchOptions& o) {
    check_decode(model, sources, o);
    ATTEND_CHECK(o.beam_width > 0, "beam_width must be positive, got ", o.beam_width);
    ATTEND_CHECK(o.n_best > 0 && o.n_best <= o.beam_width, "n_best must be in [1, beam_width = ", o.beam_width,
                 "], got ", o.n_best);
    NoGradGuard no_grad;
    BufferReuse reuse;  // a step's tensors take the buffers the last step's freed
    const int64_t K = o.beam_width;
    // The largest length penalty a hypothesis can still reach from length `len` (the bound).
    auto best_lp_from = [&](int64_t len) {
        return std::max(gnmt_length_penalty(std::min(len, o.max_length), o.length_penalty),
                        gnmt_length_penalty(o.max_length, o.length_penalty));
    };

    struct Beam {
        std::vector<int64_t> tokens;
        float log_prob = kNegInf;  // -inf: an empty slot (fewer than K live beams)
    };
    struct Candidate {
        float log_prob;
        int64_t beam, token;
    };

    std::vector<std::vector<Hypothesis>> out(sources.size());
    for (size_t first = 0; first < sources.size(); first += size_t(o.batch_size)) {
        const size_t N = std::min(sources.size() - first, size_t(o.batch_size));
        const TokenBatch src = right_padded(std::span(sources).subspan(first, N));
        ForwardMode mode;
        mode.attention_path = o.attention_path;
        const Tensor memory = repeat_rows(model.encode(src, mode), K);  // encoder once; (N·K, S, E)
        std::vector<int64_t> memory_lengths;
        for (size_t n = 0; n < N; ++n) memory_lengths.insert(memory_lengths.end(), size_t(K), src.lengths[n]);

        const int64_t R = int64_t(N) * K;
        KVCache cache = model.make_cache(R, o.max_length);
        // What the steps fill is made here, with room for the longest search, so that a step
        // allocates nothing (tests/memory/test_seq2seq_decode_allocations.cpp); `next` is
        // filled each step and swapped with `beams`.
        std::vector<Beam> beams(static_cast<size_t>(R)), next(static_cast<size_t>(R));
        for (std::vector<Beam>* v : {&beams, &next})
            for (Beam& b : *v) b.tokens.reserve(size_t(o.max_length));
        for (size_t n = 0; n < N; ++n) beams[n * size_t(K)].log_prob = 0.f;  // one live beam to start
        std::vector<std::vector<Hypothesis>> finished(N);
        for (auto& f : finished) f.reserve(size_t(K) + 1);
        std::vector<bool> done(N, false);
        std::vector<int64_t> parents(static_cast<size_t>(R));
        std::vector<Candidate> cands;
        cands.reserve(size_t(K * model.config().vocab_size));
        TokenBatch step = first_step(R, o.bos);

        // Keep a source's finished list at its K best, best first.
        auto add_finished = [&](size_t n, Hypothesis h) {
            auto& f = finished[n];
            auto at = std::upper_bound(f.begin(), f.end(), h.score,
                                       [](float s, const Hypothesis& x) { return s > x.score; });
            f.insert(at, std::move(h));
            if (int64_t(f.size()) > K) f.pop_back();
        };

        for (int64_t t = 0; t < o.max_length; ++t) {
            const Tensor lp = step_log_probs(model, cache, step, memory, memory_lengths, o);
            const int64_t V = lp.size(1);
            const int64_t len = t + 1;  // tokens of a hypothesis extended at this step, EOS included
            for (Beam& b : next) b.tokens.clear(), b.log_prob = kNegInf;
            for (size_t n = 0; n < N; ++n) {
                const int64_t base = int64_t(n) * K;
                for (int64_t k = 0; k < K; ++k) parents[size_t(base + k)] = base + k;
                if (done[n]) continue;
                // The 2K best extensions of this source's live beams: enough that K survive
                // even if K of them end in EOS.
                cands.clear();
                for (int64_t k = 0; k < K; ++k) {
                    const Beam& b = beams[size_t(base + k)];
                    if (b.log_prob == kNegInf) continue;
                    const float* row = lp.data() + (base + k) * V;
                    for (int64_t v = 0; v < V; ++v)
                        if (row[v] != kNegInf) cands.push_back({b.log_prob + row[v], base + k, v});
                }
                const size_t keep = std::min(cands.size(), size_t(2 * K));
                // Ties broken by (beam, token) so the result does not depend on the sort's whims.
                std::partial_sort(cands.begin(), cands.begin() + long(keep), cands.end(),
                                  [](const Candidate& a, const Candidate& b) {
                                      if (a.log_prob != b.log_prob) return a.log_prob > b.log_prob;
                                      return a.beam != b.beam ? a.beam < b.beam : a.token < b.token;
                                  });
                int64_t live = 0;
                for (size_t rank = 0; rank < keep && live < K; ++rank) {
                    const Candidate& c = cands[rank];
                    const Beam& parent = beams[size_t(c.beam)];
                    if (c.token == o.eos || len == o.max_length) {
                        // Only a top-K EOS finishes (a width-1 search is then greedy); at
                        // max_length every surviving candidate is final, finished or not.
                        if (int64_t(rank) >= K) continue;
                        Hypothesis h;
                        h.tokens = parent.tokens;
                        if (c.token != o.eos) h.tokens.push_back(c.token), h.finished = false;
                        h.log_prob = c.log_prob;
                        h.score = c.log_prob / gnmt_length_penalty(len, o.length_penalty);
                        add_finished(n, std::move(h));
                        continue;
                    }
                    Beam& b = next[size_t(base + live)];
                    b.tokens = parent.tokens;
                    b.tokens.push_back(c.token);
                    b.log_prob = c.log_prob;
                    parents[size_t(base + live)] = c.beam;
                    ++live;
                }
                // Is this source done?
                const auto& f = finished[n];
                if (live == 0 || len == o.max_length) {
                    done[n] = true;
                } else if (int64_t(f.size()) >= K) {
                    if (o.early_stopping) {
                        done[n] = true;
                    } else {
                        float best_live = kNegInf;
                        for (int64_t k = 0; k < live; ++k) best_live = std::max(best_live, next[size_t(base + k)].log_prob);
                        // log p ≤ 0 only falls; dividing by the largest reachable penalty bounds the score.
                        const float bound = best_live / best_lp_from(len + 1);
                        if (bound <= f.back().score) done[n] = true;
                    }
                }
            }
            beams.swap(next);
            bool any = false;
            for (size_t n = 0; n < N; ++n) {
                for (int64_t k = 0; k < K; ++k) {
                    const size_t r = n * size_t(K) + size_t(k);
                    const bool live = !done[n] && beams[r].log_prob != kNegInf;
                    step.lengths[r] = live ? 1 : 0;  // finished sources and empty slots add no keys
                    step.ids[r] = live ? beams[r].tokens.back() : o.bos;
                    any = any || live;
                }
            }
            if (o.on_step) o.on_step(t);
            if (!any) break;
            // Every row now holds the keys of the beam it continues. A beam's parent is one of its
            // own source's K rows, whose cross memory is the same (repeat_rows): it stays.
            cache.reorder(parents, KVCache::CrossMemory::keep);
        }
        for (size_t n = 0; n < N; ++n) {
            auto& f = finished[n];
            if (int64_t(f.size()) > o.n_best) f.resize(size_t(o.n_best));
            out[first + n] = std::move(f);
        }
    }
    return out;
}

}  // namespace attend
