// generate/perplexity.hpp — how surprised a language model is by a text.
//
//   nll_i = −log p(x_i | context before i)        for every token i ≥ 1 (x_0 has no context)
//   perplexity = exp(mean_i nll_i)
//
// A text longer than the model's context is scored with a sliding window (as Hugging Face's
// perplexity guide does): windows of W tokens start at 0, S, 2S, ... and each scores only the
// tokens no earlier window scored, so token i is scored by window k = max(0, ⌈(i − W + 1)/S⌉)
// — with at least W − S tokens of context once the text is past the first window. W is the
// model's max_positions unless given; S is W/2 unless given (S = W: disjoint windows, faster,
// less context).
//
// Implemented in src/generate/perplexity.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "attend/models/transformer.hpp"

namespace attend {

struct PerplexityOptions {
    int64_t window = 0;  // 0: the model's max_positions
    int64_t stride = 0;  // 0: window / 2 (at least 1)
    AttentionPath attention_path = AttentionPath::fused;
};

// nll[i − 1] = −log p(tokens[i] | ...) for i = 1 .. n − 1 (natural log, computed in double).
// The model must be decoder-only with an lm head; tokens must be in its vocabulary.
std::vector<double> token_nll(const Transformer& model, const std::vector<int64_t>& tokens,
                              const PerplexityOptions& options = {});

// exp of the mean (an Error for no values).
double perplexity_of(const std::vector<double>& nll);

}  // namespace attend
