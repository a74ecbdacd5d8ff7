// Generation with the KV cache: batched, ragged prompts give what each prompt gives alone,
// and what a no-cache loop (a full forward over the whole sequence at every step) gives;
// stop tokens, the context limit, streaming and seeds behave as generate/generate.hpp says.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/generate/generate.hpp"
#include "attend/generate/sampler.hpp"
#include "attend/models/transformer.hpp"

using namespace attend;

namespace {

using Tokens = std::vector<int64_t>;

TransformerConfig llama_like() {
    TransformerConfig c;
    c.name = "llama-like";
    c.vocab_size = 67, c.d_model = 48, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.d_ff = 96;
    c.max_positions = 64;
    c.norm = NormType::rms_norm, c.final_norm = true, c.activation = Activation::swiglu;
    c.positions = PositionType::rope, c.rope_layout = RopeLayout::interleaved;
    c.bias = false, c.tie_embeddings = false;
    c.init = InitScheme::normal, c.init_std = 0.3f;  // large weights: peaked, varied predictions
    return c;
}

TransformerConfig gpt2_like(int64_t max_positions = 64) {
    TransformerConfig c;
    c.name = "gpt2-like";
    c.vocab_size = 59, c.d_model = 32, c.n_layers = 2, c.n_heads = 4, c.d_ff = 64, c.max_positions = max_positions;
    c.activation = Activation::gelu_tanh, c.positions = PositionType::learned, c.tie_embeddings = true;
    c.init = InitScheme::normal, c.init_std = 0.3f;
    return c;
}

const std::vector<Tokens> kPrompts = {{5, 17, 3, 44, 9, 12, 30}, {8, 2, 51}, {40}};

// Greedy without a cache: the whole sequence through forward() at every step.
Tokens greedy_without_cache(const Transformer& model, Tokens seq, int64_t n) {
    NoGradGuard no_grad;
    const int64_t V = model.config().vocab_size;
    Tokens out;
    for (int64_t s = 0; s < n; ++s) {
        TokenBatch batch;
        batch.ids = seq;
        batch.shape = {1, int64_t(seq.size())};
        const Tensor logits = model.forward(batch).contiguous();  // (1, T, V)
        const int64_t next = argmax(logits.data() + (int64_t(seq.size()) - 1) * V, V);
        out.push_back(next);
        seq.push_back(next);
    }
    return out;
}

GenerateOptions greedy(int64_t n) {
    GenerateOptions o;
    o.max_new_tokens = n;
    o.temperature = 0.f;
    return o;
}

void expect_batched_equals_alone(const Transformer& model, AttentionPath path) {
    GenerateOptions o = greedy(12);
    o.attention_path = path;
    const auto batched = generate(model, kPrompts, o);
    ASSERT_EQ(batched.size(), kPrompts.size());
    for (size_t b = 0; b < kPrompts.size(); ++b) {
        const auto alone = generate(model, {kPrompts[b]}, o);
        EXPECT_EQ(batched[b].tokens, alone[0].tokens) << model.config().name << ", prompt " << b;
        EXPECT_EQ(batched[b].tokens.size(), 12u);
        EXPECT_EQ(batched[b].finish, FinishReason::max_new_tokens);
        EXPECT_EQ(batched[b].tokens, greedy_without_cache(model, kPrompts[b], 12))
            << model.config().name << ", prompt " << b << " against a full forward at every step";
    }
    // The test means something only if the model does not repeat one token forever.
    for (const auto& g : batched) {
        Tokens distinct = g.tokens;
        std::sort(distinct.begin(), distinct.end());
        EXPECT_GE(std::unique(distinct.begin(), distinct.end()) - distinct.begin(), 3) << model.config().name;
    }
}

}  // namespace

TEST(Generate, BatchedRaggedPromptsEqualEachAloneAndNoCache) {
    const Transformer llama(llama_like(), 21), gpt2(gpt2_like(), 22);
    for (AttentionPath path : {AttentionPath::fused, AttentionPath::reference}) {
        expect_batched_equals_alone(llama, path);
        expect_batched_equals_alone(gpt2, path);
    }
}

TEST(Generate, StopTokensEndASequenceAndAreNotKept) {
    const Transformer model(llama_like(), 21);
    const auto full = generate(model, kPrompts, greedy(12));
    const int64_t stop = full[0].tokens[3];  // sequence 0's fourth new token
    GenerateOptions o = greedy(12);
    o.stop_tokens = {stop};
    const auto stopped = generate(model, kPrompts, o);
    for (size_t b = 0; b < kPrompts.size(); ++b) {
        const auto& f = full[b].tokens;
        const auto first = std::find(f.begin(), f.end(), stop);
        EXPECT_EQ(stopped[b].tokens, Tokens(f.begin(), first)) << "prompt " << b;  // the prefix before the stop
        EXPECT_EQ(stopped[b].finish, first == f.end() ? FinishReason::max_new_tokens : FinishReason::stop_token);
        if (first != f.end()) {
            EXPECT_EQ(stopped[b].stop_token, stop);
        }
    }
    EXPECT_EQ(stopped[0].finish, FinishReason::stop_token);
    EXPECT_LE(stopped[0].tokens.size(), 3u);
}

// A context of 10 positions (learned positions: nothing past 10 exists). A prompt of 7 gets
// 10 − 7 + 1 = 4 new tokens (the last is produced but never fed back), a prompt of 2 gets 9,
// and it keeps decoding correctly after the other sequence finished and left the batch.
TEST(Generate, TheContextLimitsEachSequence) {
    const Transformer model(gpt2_like(10), 5);
    const std::vector<Tokens> prompts = {{1, 2, 3, 4, 5, 6, 7}, {9, 8}};
    GenerateOptions stop_at_the_end = greedy(50);
    stop_at_the_end.slide_window = false;
    const auto out = generate(model, prompts, stop_at_the_end);
    ASSERT_EQ(out[0].tokens.size(), 4u);
    ASSERT_EQ(out[1].tokens.size(), 9u);
    EXPECT_EQ(out[0].finish, FinishReason::context_full);
    EXPECT_EQ(out[1].finish, FinishReason::context_full);
    EXPECT_EQ(out[0].tokens, greedy_without_cache(model, prompts[0], 4));
    EXPECT_EQ(out[1].tokens, greedy_without_cache(model, prompts[1], 9));
    EXPECT_THROW(generate(model, {Tokens(11, 1)}, greedy(1)), Error);  // a prompt longer than the context
}

// Sliding on: past the context of 10 each sequence goes on from its last 5 tokens. Each new
// token is what a full forward pass over the window it was drawn from gives.
TEST(Generate, PastTheContextTheWindowSlides) {
    const Transformer model(gpt2_like(10), 5);
    const std::vector<Tokens> prompts = {{1, 2, 3, 4, 5, 6, 7}, {9, 8}};
    const auto out = generate(model, prompts, greedy(30));
    for (size_t b = 0; b < prompts.size(); ++b) {
        ASSERT_EQ(out[b].tokens.size(), 30u);
        EXPECT_EQ(out[b].finish, FinishReason::max_new_tokens);
        // Replay without a cache: the window starts full (prompt), refills to 10, drops to 5.
        Tokens all = prompts[b], context = prompts[b];
        for (size_t i = 0; i < 30; ++i) {
            const Tokens next = greedy_without_cache(model, context, 1);
            ASSERT_EQ(next[0], out[b].tokens[i]) << "sequence " << b << ", token " << i;
            all.push_back(next[0]);
            context.push_back(next[0]);
            if (context.size() > 10) context.assign(all.end() - 5, all.end());
        }
    }
}

TEST(Generate, TheCallbackStreamsEveryKeptTokenInOrder) {
    const Transformer model(llama_like(), 21);
    std::vector<Tokens> streamed(kPrompts.size());
    std::vector<int64_t> order;
    const auto out = generate(model, kPrompts, greedy(6), [&](int64_t b, int64_t token) {
        streamed[size_t(b)].push_back(token);
        order.push_back(b);
    });
    for (size_t b = 0; b < kPrompts.size(); ++b) EXPECT_EQ(streamed[b], out[b].tokens);
    // Step by step, in sequence order within a step: 0 1 2 0 1 2 ...
    ASSERT_EQ(order.size(), 18u);
    for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], int64_t(i % 3));
}

TEST(Generate, SamplingIsSeededPerSequence) {
    const Transformer model(llama_like(), 21);
    GenerateOptions o;
    o.max_new_tokens = 16, o.temperature = 1.2f, o.top_k = 20, o.top_p = 0.95f, o.seed = 77;
    const auto a = generate(model, kPrompts, o), b = generate(model, kPrompts, o);
    for (size_t i = 0; i < kPrompts.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens) << "same seed, prompt " << i;
    // Sequence i draws with seed + i, whatever shares its batch.
    for (size_t i = 0; i < kPrompts.size(); ++i) {
        GenerateOptions alone = o;
        alone.seed = o.seed + i;
        EXPECT_EQ(generate(model, {kPrompts[i]}, alone)[0].tokens, a[i].tokens) << "prompt " << i;
    }
    o.seed = 78;
    const auto c = generate(model, kPrompts, o);
    EXPECT_NE(c[0].tokens, a[0].tokens);
    // Sampling is not greedy here (the test would be empty otherwise).
    EXPECT_NE(a[0].tokens, generate(model, {kPrompts[0]}, greedy(16))[0].tokens);
}

TEST(Generate, BadRequestsAreErrors) {
    const Transformer model(llama_like(), 21);
    EXPECT_THROW(generate(model, {}, greedy(4)), Error);
    EXPECT_THROW(generate(model, {{1, 2}, {}}, greedy(4)), Error);   // an empty prompt
    EXPECT_THROW(generate(model, {{1, 67}}, greedy(4)), Error);     // outside the vocabulary
    GenerateOptions o = greedy(4);
    o.stop_tokens = {-1};
    EXPECT_THROW(generate(model, {{1}}, o), Error);
    o = greedy(4);
    o.top_p = 0.f;
    o.temperature = 1.f;
    EXPECT_THROW(generate(model, {{1}}, o), Error);
    EXPECT_TRUE(generate(model, {{1}}, greedy(0))[0].tokens.empty());
    TransformerConfig enc = llama_like();
    enc.shape = ModelShape::encoder, enc.head = HeadType::none, enc.positions = PositionType::learned;
    EXPECT_THROW(generate(Transformer(enc, 1), {{1}}, greedy(2)), Error);
}
