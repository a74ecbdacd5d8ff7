// generate/generate.hpp — continue several prompts at once with a decoder and its KV cache.
//
//   step 0   one ragged step: every prompt, right-padded to the longest, with n_new = its
//            length; the logits at each prompt's last token give its first new token
//   step s   one token per unfinished sequence (Tq = 1, n_new = 1); finished sequences take
//            part with n_new = 0 and their slot reset, so they cost no attention and their
//            idle row stays at position 0
//
// A sequence finishes when it draws a stop token (not emitted, not kept) or when it has
// max_new_tokens new tokens. One that fills the model's context (max_positions) writes on
// over a sliding window (GenerateOptions::slide_window, the default), or finishes there with
// slide_window off. Every new token is handed to the callback as soon as it is chosen — the streaming hook — in
// sequence order within a step.
//
// Each sequence's draws and stops are a SequenceDecoder (generate/sequence.hpp), the same
// object the server's scheduler uses. Sequence b samples with its own Generator seeded `seed + b`, so a prompt's continuation
// does not depend on which other prompts share its batch (greedy is the same either way).
//
// Runs under NoGradGuard. Implemented in src/generate/generate.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "attend/generate/sampler.hpp"
#include "attend/generate/sequence.hpp"
#include "attend/models/transformer.hpp"

namespace attend {

struct GenerateOptions {
    int64_t max_new_tokens = 64;
    float temperature = 1.f;  // 0: greedy
    int64_t top_k = 0;        // 0: off
    float top_p = 1.f;        // 1: off
    uint64_t seed = 0;
    std::vector<int64_t> stop_tokens;  // e.g. EOS
    int64_t vocab_limit = 0;  // > 0: draw only ids < vocab_limit (a model vocabulary padded past its tokenizer's)
    AttentionPath attention_path = AttentionPath::fused;
    // When a sequence fills the model's context: true — keep going on a window of its last
    // context/2 tokens (the cache is rebuilt from them, as llama.cpp's context shift keeps
    // half; nanoGPT's sample.py likewise crops to the last block_size tokens), so a model with
    // a short context writes on; false — stop with FinishReason::context_full.
    bool slide_window = true;
    // What the KV cache holds: f32 (the numbers of a forward pass without a cache) or bf16
    // (half the memory and half what each token reads of a long context; nn/kv_cache.hpp).
    WeightType kv_cache = WeightType::f32;

    SamplingOptions sampling() const { return {temperature, top_k, top_p}; }
};

struct Generation {
    std::vector<int64_t> tokens;  // the new tokens (the stop token excluded)
    FinishReason finish = FinishReason::max_new_tokens;
    int64_t stop_token = -1;      // the stop token drawn, when finish == stop_token
};

// Called with (sequence index, new token) for every kept token, in the order generated.
using TokenCallback = std::function<void(int64_t sequence, int64_t token)>;
// Called after on_token; true ends that sequence with FinishReason::stop_string (the caller
// saw a stop string in its text: generate/text_stream.hpp).
using StopCallback = std::function<bool(int64_t sequence)>;

// prompts: one non-empty vector of token ids per sequence, any lengths ≤ max_positions.
// Every new token is drawn from the logits of the whole (windowed) sequence, as a full forward
// pass over that window would give them.
// The model must be decoder-only with an lm head.
std::vector<Generation> generate(const Transformer& model, const std::vector<std::vector<int64_t>>& prompts,
                                 const GenerateOptions& options, const TokenCallback& on_token = {},
                                 const StopCallback& stop_after = {});

}  // namespace attend
