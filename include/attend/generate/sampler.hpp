// generate/sampler.hpp — pick the next token from a row of logits.
//
// The distribution a sampler draws from, built in the order Hugging Face's generate applies
// its warpers (temperature, then top-k, then top-p):
//
//   temperature T = 0   greedy: the argmax (the lowest index among equal maxima), no draw
//   temperature T > 0   p_i = exp((z_i − m) / T) / Σ_j exp((z_j − m) / T),   m = max_j z_j
//   top-k K > 0         keep the K most probable tokens (ties: lower index first)
//   top-p P < 1         then keep the smallest prefix of those, in descending probability,
//                       whose cumulative probability reaches P (always at least one token)
//
// and the kept probabilities are renormalised to sum to 1. A draw takes one uniform
// u ∈ [0, 1) from the attend::Generator and walks the kept tokens in descending probability
// until the cumulative probability passes u — so a seed fixes every choice, on any machine.
//
// Logits of −inf (a masked token) get probability 0; NaN or +inf logits, or a row with no
// finite logit, are an Error.
//
// Implemented in src/generate/sampler.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "attend/random.hpp"

namespace attend {

struct SamplingOptions {
    float temperature = 1.f;  // 0: greedy
    int64_t top_k = 0;        // 0: no top-k
    float top_p = 1.f;        // 1: no top-p; in (0, 1]
    void validate() const;    // Error naming the bad field
};

// The index of the largest logit (the lowest one among equal maxima).
int64_t argmax(const float* logits, int64_t vocab);

// The full distribution the sampler draws from: (vocab) probabilities, zero outside the kept
// set, summing to 1. Greedy gives a one-hot row at the argmax.
std::vector<double> sampling_distribution(const float* logits, int64_t vocab, const SamplingOptions& options);

// One draw from sampling_distribution (greedy: the argmax, the generator untouched).
int64_t sample(const float* logits, int64_t vocab, const SamplingOptions& options, Generator& gen);

// The model's own log-probabilities, log softmax(z) at temperature 1 with nothing truncated
// (what OpenAI's `logprobs` reports): returns log p(token); `top` gets the n most probable
// tokens (all of them if n ≥ vocab) with their log p, the most probable first and the lower
// index first among equal logits. Bad rows are Errors as for sample(); fast for n of a few
// dozen (one pass over the row), correct for any n.
struct TokenLogprob {
    int64_t token;
    double logprob;
};
double token_logprobs(const float* logits, int64_t vocab, int64_t token, int64_t n, std::vector<TokenLogprob>& top);

// Options and a seeded stream together: the sampler of one sequence.
class Sampler {
public:
    explicit Sampler(const SamplingOptions& options = {}, uint64_t seed = 0);
    int64_t operator()(const float* logits, int64_t vocab) { return sample(logits, vocab, options_, gen_); }
    const SamplingOptions& options() const { return options_; }

private:
    SamplingOptions options_;
    Generator gen_;
};

}  // namespace attend
