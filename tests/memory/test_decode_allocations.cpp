// The decoding loop allocates nothing: once generate() is past its first tokens, a step —
// the model's forward pass over the KV cache, the head, sampling, feeding the token back —
// takes no heap memory at all. Its tensors' handles come from the block cache
// (core/block_cache.hpp), their buffers from the BufferReuse pool generate() keeps open,
// shapes and masks are held inline (attend/int64_list.hpp), and an op under NoGradGuard
// builds no tape closure (attend/autograd.hpp). Every malloc of the process is counted
// (memory/counting_allocator.hpp), those of oneDNN and OpenMP included.
//
// GPT-2's block (learned positions, LayerNorm, GELU-tanh, biases, tied head) at GPT-2 small's
// width, and Llama's (RoPE, RMSNorm, SwiGLU, grouped-query attention, no bias), each with f32,
// bf16 and int8 weights, an f32 and a bf16 KV cache, greedy and sampled, one prompt and two of
// different lengths, at one and two threads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attend/generate/generate.hpp"
#include "attend/low_precision.hpp"
#include "attend/models/config.hpp"
#include "attend/models/transformer.hpp"
#include "attend/parallel.hpp"
#include "memory/counting_allocator.hpp"

namespace {

using namespace attend;

TransformerConfig gpt2_shaped() {
    TransformerConfig c = gpt2_small();  // its width and heads, fewer layers and tokens
    c.vocab_size = 512, c.n_layers = 2, c.max_positions = 128;
    c.dropout = c.attention_dropout = 0.f;
    return c;
}

TransformerConfig llama_shaped() {
    TransformerConfig c = llama2_7b();
    c.vocab_size = 512, c.d_model = 256, c.n_layers = 2, c.n_heads = 8, c.n_kv_heads = 4, c.d_ff = 512;
    c.max_positions = 128, c.tie_embeddings = false;
    c.dropout = c.attention_dropout = 0.f;
    return c;
}

constexpr int64_t kNewTokens = 24;
constexpr int64_t kWarmTokens = 3;  // the prompt's pass and the first steps may allocate

// Heap allocations of the whole process between sequence 0's token kWarmTokens and its
// second-to-last token: every step in between, complete.
int64_t allocations_while_decoding(const Transformer& model, const std::vector<std::vector<int64_t>>& prompts,
                                   const GenerateOptions& options) {
    std::vector<int64_t> marks;
    marks.reserve(size_t(kNewTokens));  // the callback itself must not allocate
    const auto on_token = [&](int64_t b, int64_t) {
        if (b == 0) marks.push_back(counted_heap::allocations());
    };
    const std::vector<Generation> out = generate(model, prompts, options, on_token);
    EXPECT_EQ(int64_t(out[0].tokens.size()), kNewTokens);
    EXPECT_EQ(int64_t(marks.size()), kNewTokens);
    if (int64_t(marks.size()) != kNewTokens) return -1;
    return marks[size_t(kNewTokens - 2)] - marks[size_t(kWarmTokens - 1)];
}

TEST(DecodeAllocations, TheCounterSeesATensorsAllocations) {
    // Outside generate() (no BufferReuse scope) a fresh tensor's buffer is a malloc: the
    // counter must see it, or the zeros below prove nothing.
    const int64_t before = counted_heap::allocations();
    { const Tensor t = Tensor::empty({1000}); }
    EXPECT_GE(counted_heap::allocations() - before, 1);
}

TEST(DecodeAllocations, NoStepAllocatesOnceWarm) {
    const std::vector<std::vector<int64_t>> one = {{5, 9, 2, 7}};
    const std::vector<std::vector<int64_t>> two = {{5, 9, 2, 7, 11, 3}, {8, 1}};
    for (const bool llama : {false, true}) {
        for (const WeightType weights : {WeightType::f32, WeightType::bf16, WeightType::int8}) {
            Transformer model(llama ? llama_shaped() : gpt2_shaped(), uint64_t(7));
            if (weights != WeightType::f32) model.convert_weights(weights);
            for (const WeightType cache : {WeightType::f32, WeightType::bf16})
                for (const bool sampled : {false, true})
                    for (const auto* prompts : {&one, &two})
                        for (const int threads : {1, 2}) {
                            set_num_threads(threads);
                            GenerateOptions o;
                            o.max_new_tokens = kNewTokens;
                            o.kv_cache = cache;
                            o.temperature = sampled ? 0.8f : 0.f;
                            if (sampled) o.top_k = 40, o.top_p = 0.9f, o.seed = 3;
                            SCOPED_TRACE(std::string(llama ? "llama" : "gpt2") + " weights " + name_of(weights) +
                                         " cache " + name_of(cache) + (sampled ? " sampled" : " greedy") +
                                         " prompts " + std::to_string(prompts->size()) + " threads " +
                                         std::to_string(threads));
                            EXPECT_EQ(allocations_while_decoding(model, *prompts, o), 0);
                        }
        }
    }
    set_num_threads(0);
}

}  // namespace
