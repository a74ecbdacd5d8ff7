// generate/beam_search.hpp — decode an encoder–decoder model: greedy and beam search.
//
// Both run the encoder once on the whole batch of sources and then the decoder one token
// per step through a KVCache (models/transformer.hpp's forward_step), whose cross-attention
// keys and values are projected at the first step and kept.
//
// Beam search keeps, per source, the K best partial translations ("beams") as K rows of
// one decoder batch (N sources → N·K rows). Each step scores every extension of every
// beam, log p(y₁…y_t) = log p(y₁…y_{t−1}) + log softmax(logits)[y_t], and keeps the 2K best
// candidates of each source in order:
//   • a candidate ending in EOS of rank < K becomes a finished hypothesis, scored with
//     GNMT's length penalty (Wu et al. 2016)
//         score(Y) = log p(Y) / lp(Y),   lp(Y) = ((5 + |Y|) / 6)^α
//     where |Y| counts the generated tokens including EOS (α = 0: plain log-probability;
//     α > 0 stops the sum of negative log-probabilities from favouring short outputs);
//   • the first K candidates that do not end in EOS become the next step's beams; the cache
//     rows are re-ordered to follow them (KVCache::reorder), so every beam keeps its own keys.
// The rank < K rule (as Hugging Face's) makes a width-1 search exactly greedy decoding.
//
// A source is done when (early_stopping) it holds K finished hypotheses, or (otherwise) when
// no live beam can still beat the worst of its K best finished ones: a live beam's log p
// only falls as it grows, so its best possible score is log p / max_{L} lp(L) over the
// lengths still reachable — an exact bound, not a heuristic. Beams still alive at
// max_length are kept as unfinished hypotheses (finished = false). Each source returns its
// n_best hypotheses, best score first.
//
// Runs under NoGradGuard. Implemented in src/generate/beam_search.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "attend/models/transformer.hpp"

namespace attend {

struct Seq2SeqDecodeOptions {
    int64_t bos = 1, eos = 2;          // the decoder starts from bos; eos ends a hypothesis
    int64_t max_length = 32;           // generated tokens at most, EOS included (≤ the model's max_positions)
    std::vector<int64_t> suppress;     // tokens never generated (say pad and bos)
    int64_t batch_size = 64;           // sources decoded together (rows: batch_size · beam_width)
    AttentionPath attention_path = AttentionPath::fused;
    // Called after each decoder step of a batch of sources (step 0, 1, ...), once its tokens
    // are chosen: progress for long decodes, and the allocation tests' probe.
    std::function<void(int64_t step)> on_step;
};

struct BeamSearchOptions : Seq2SeqDecodeOptions {
    int64_t beam_width = 4;      // K
    float length_penalty = 0.6f; // α of ((5 + |Y|) / 6)^α; 0: none
    int64_t n_best = 1;          // hypotheses returned per source, ≤ beam_width
    bool early_stopping = true;  // stop a source at K finished hypotheses (else: the exact bound)
};

struct Hypothesis {
    std::vector<int64_t> tokens;  // generated tokens, EOS excluded
    float log_prob = 0;           // log p(tokens [EOS]) under the model
    float score = 0;              // log_prob / lp(|Y|), the ranking key
    bool finished = true;         // ended with EOS (false: cut at max_length)
};

// GNMT's length penalty ((5 + length) / 6)^α.
float gnmt_length_penalty(int64_t length, float alpha);

// The argmax token at every step until EOS or max_length; one token list per source (EOS
// excluded). sources: one non-empty id list per sequence, each ≤ the model's max_positions.
std::vector<std::vector<int64_t>> greedy_decode(const Transformer& model,
                                                const std::vector<std::vector<int64_t>>& sources,
                                                const Seq2SeqDecodeOptions& options);

// Per source, its n_best hypotheses sorted by score (best first).
std::vector<std::vector<Hypothesis>> beam_search(const Transformer& model,
                                                 const std::vector<std::vector<int64_t>>& sources,
                                                 const BeamSearchOptions& options);

}  // namespace attend
