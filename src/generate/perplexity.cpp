// generate/perplexity.cpp — per-token negative log-likelihood with a sliding window
// (generate/perplexity.hpp).
//
//   −log p(y | z) = log Σ_j exp(z_j − m) + m − z_y,   m = max_j z_j   (log-softmax, stable)
#include "attend/generate/perplexity.hpp"

#include <algorithm>
#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"

namespace attend {
namespace {

double nll_of(const float* z, int64_t V, int64_t target) {
    double m = -INFINITY;
    for (int64_t j = 0; j < V; ++j) m = std::max(m, double(z[j]));
    double sum = 0;
    for (int64_t j = 0; j < V; ++j) sum += std::exp(double(z[j]) - m);
    return std::log(sum) + m - double(z[target]);
}

}  // namespace

std::vector<double> token_nll(const Transformer& model, const std::vector<int64_t>& tokens,
                              const PerplexityOptions& options) {
    const TransformerConfig& c = model.config();
    ATTEND_CHECK(c.shape == ModelShape::decoder && c.head == HeadType::lm,
                 "perplexity needs a decoder-only model with an lm head, this one is ", name_of(c.shape), " with a ",
                 name_of(c.head), " head");
    const int64_t n = int64_t(tokens.size()), V = c.vocab_size;
    for (int64_t i = 0; i < n; ++i)
        ATTEND_CHECK(tokens[size_t(i)] >= 0 && tokens[size_t(i)] < V, "token ", i, " is ", tokens[size_t(i)],
                     ", outside the vocabulary of ", V);
    const int64_t W = options.window > 0 ? options.window : c.max_positions;
    ATTEND_CHECK(W >= 2, "the window must hold at least 2 tokens, got ", W);
    ATTEND_CHECK(c.max_positions <= 0 || W <= c.max_positions, "a window of ", W,
                 " tokens is more than the model's context of ", c.max_positions);
    const int64_t S = options.stride > 0 ? options.stride : std::max<int64_t>(1, W / 2);
    ATTEND_CHECK(S <= W, "the stride (", S, ") must not exceed the window (", W, ")");

    std::vector<double> nll;
    if (n < 2) return nll;
    nll.reserve(size_t(n - 1));
    NoGradGuard no_grad;
    ForwardMode mode;
    mode.attention_path = options.attention_path;
    int64_t scored_to = 1;  // tokens [1, scored_to) are done
    for (int64_t start = 0; scored_to < n; start += S) {
        const int64_t end = std::min(n, start + W);  // this window: tokens [start, end)
        TokenBatch batch;
        batch.ids.assign(tokens.begin() + start, tokens.begin() + end);
        batch.shape = {1, end - start};
        const Tensor logits = model.forward(batch, mode).contiguous();  // (1, end − start, V)
        // Row r predicts token start + r + 1; score the targets this window is the first to reach.
        for (int64_t i = scored_to; i < end; ++i) nll.push_back(nll_of(logits.data() + (i - 1 - start) * V, V, tokens[size_t(i)]));
        scored_to = end;
    }
    return nll;
}

double perplexity_of(const std::vector<double>& nll) {
    ATTEND_CHECK(!nll.empty(), "perplexity needs at least one scored token (a text of 2 tokens or more)");
    double sum = 0;
    for (double x : nll) sum += x;
    return std::exp(sum / double(nll.size()));
}

}  // namespace attend
