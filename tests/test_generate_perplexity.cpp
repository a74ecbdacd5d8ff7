// token_nll: the per-token negative log-likelihood equals the cross-entropy the training
// loss computes (a different code path: ops/cross_entropy), for a text inside one window and,
// token by token, for a text that needs the sliding window.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/generate/perplexity.hpp"
#include "attend/models/transformer.hpp"
#include "attend/random.hpp"

using namespace attend;

namespace {

TransformerConfig small_lm(int64_t max_positions) {
    TransformerConfig c;
    c.name = "small-lm";
    c.vocab_size = 37, c.d_model = 32, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.d_ff = 64;
    c.max_positions = max_positions;
    c.norm = NormType::rms_norm, c.activation = Activation::swiglu, c.positions = PositionType::rope;
    c.bias = false, c.tie_embeddings = false, c.init_std = 0.2f;
    return c;
}

std::vector<int64_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
    Generator gen(seed);
    std::vector<int64_t> t;
    for (int64_t i = 0; i < n; ++i) t.push_back(int64_t(gen.next_u64() % uint64_t(vocab)));
    return t;
}

// −log p(tokens[last] | tokens[start .. last−1]) by the training loss on that span.
double loss_of_last(const Transformer& model, const std::vector<int64_t>& tokens, int64_t start, int64_t last) {
    NoGradGuard no_grad;
    TokenBatch b;
    b.ids.assign(tokens.begin() + start, tokens.begin() + last);
    b.shape = {1, last - start};
    const Tensor logits = model.forward(b);  // (1, T, V)
    const int64_t T = last - start;
    std::vector<int64_t> targets(size_t(T), -100);
    targets.back() = tokens[size_t(last)];
    return Transformer::loss(logits, targets).item();
}

}  // namespace

TEST(GeneratePerplexity, OneWindowEqualsTheTrainingLoss) {
    const Transformer model(small_lm(64), 3);
    const auto tokens = random_tokens(40, 37, 1);
    const std::vector<double> nll = token_nll(model, tokens);
    ASSERT_EQ(nll.size(), 39u);
    // Mean over the sequence = the training loss with next-token targets.
    NoGradGuard no_grad;
    TokenBatch b;
    b.ids = tokens;
    b.shape = {1, 40};
    const double loss = Transformer::loss(model.forward(b), next_token_targets(b)).item();
    double mean = 0;
    for (double x : nll) mean += x;
    mean /= double(nll.size());
    EXPECT_NEAR(mean, loss, 1e-5 * loss);
    EXPECT_NEAR(perplexity_of(nll), std::exp(loss), 1e-4 * std::exp(loss));
    // And token by token.
    for (int64_t i = 1; i < 40; i += 7) EXPECT_NEAR(nll[size_t(i - 1)], loss_of_last(model, tokens, 0, i), 1e-4);
}

// Window W = 8, stride S = 3 over 30 tokens: token i is scored by the window starting at
// 3·max(0, ⌈(i − 7)/3⌉), with the context from there — checked against the loss on that span.
TEST(GeneratePerplexity, TheSlidingWindowScoresEachTokenOnceWithItsContext) {
    const Transformer model(small_lm(8), 4);
    const auto tokens = random_tokens(30, 37, 2);
    PerplexityOptions o;
    o.window = 8, o.stride = 3;
    const std::vector<double> nll = token_nll(model, tokens, o);
    ASSERT_EQ(nll.size(), 29u);
    for (int64_t i = 1; i < 30; ++i) {
        const int64_t k = std::max<int64_t>(0, (i - 8 + 1 + 3 - 1) / 3);
        const int64_t start = 3 * k;
        ASSERT_LT(i - start, 8) << "token " << i;
        EXPECT_GE(i - start, i < 8 ? i : 8 - 3) << "token " << i << " has too little context";
        EXPECT_NEAR(nll[size_t(i - 1)], loss_of_last(model, tokens, start, i), 1e-4) << "token " << i;
    }
    // The default: the model's context as the window (8), stride 4; a window past it is an error.
    EXPECT_EQ(token_nll(model, tokens).size(), 29u);
    o.window = 9;
    EXPECT_THROW(token_nll(model, tokens, o), Error);
}

TEST(GeneratePerplexity, BadInputsAreErrors) {
    const Transformer model(small_lm(16), 5);
    EXPECT_THROW(token_nll(model, {1, 2, 37}), Error);  // outside the vocabulary
    EXPECT_TRUE(token_nll(model, {4}).empty());
    EXPECT_THROW(perplexity_of({}), Error);
    TransformerConfig enc = small_lm(16);
    enc.shape = ModelShape::encoder, enc.head = HeadType::none;
    EXPECT_THROW(token_nll(Transformer(enc, 1), {1, 2, 3}), Error);
}
