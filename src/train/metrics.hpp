// train/metrics.hpp — what the loop measures of a batch: its logits and mean loss, the
// validation accuracy against the unigram baseline, and whether the parameters are still
// finite (private to src/train).
#pragma once
#include <cstdint>
#include <vector>

#include "attend/models/transformer.hpp"
#include "attend/nn/module.hpp"
#include "attend/train/data.hpp"

namespace attend {

// (B, T, V) logits of `batch` (an encoder-decoder reads its sources too).
Tensor batch_logits(const Transformer& model, const Batch& batch, const ForwardMode& mode);
// The mean cross-entropy over its targets not ignored (a scalar).
Tensor batch_loss(const Transformer& model, const Batch& batch, const ForwardMode& mode);

// Counts, over targets not ignored, those whose argmax logit is right and those equal to
// `unigram` — the accuracy of always guessing the training split's most frequent token, the
// baseline.
struct Hits {
    int64_t correct = 0, unigram = 0, total = 0;
    void add(const Tensor& logits, const std::vector<int64_t>& targets, int64_t unigram_guess);  // logits (B, T, V)
};

// Every value of every parameter finite: a checkpoint is never written with a NaN in it.
bool all_finite(const NamedParameters& params);

}  // namespace attend
