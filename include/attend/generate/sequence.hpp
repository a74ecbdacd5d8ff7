// generate/sequence.hpp — the decisions of one generated sequence, shared by attend::generate
// (the CLI's batch loop) and the server's continuous-batching scheduler (serve/), so both pick
// the same token from the same logits and stop at the same place:
//
//   next(logits)   draws with the sequence's own seeded Sampler (ids < drawable only)
//                  → a stop token: finished (stop_token), the token not kept
//                  → else the token is kept; max_new_tokens reached: finished
//   finish_with(r) the caller ends it (context full, a stop string, a cancelled request)
//
// Implemented in src/generate/sequence.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "attend/generate/sampler.hpp"

namespace attend {

enum class FinishReason { stop_token, max_new_tokens, context_full, stop_string, cancelled };
const char* name_of(FinishReason reason);  // "stop_token", ...

class SequenceDecoder {
public:
    // drawable: ids ≥ drawable are never drawn (a vocabulary padded past its tokenizer's).
    SequenceDecoder(const SamplingOptions& sampling, uint64_t seed, std::vector<int64_t> stop_tokens,
                    int64_t max_new_tokens, int64_t drawable);

    struct Step {
        int64_t token = -1;  // the token drawn
        bool kept = false;   // appended to tokens() (false: a stop token)
    };
    // Draw the next token from this sequence's row of logits (≥ drawable entries). Only while
    // !finished().
    Step next(const float* logits);
    void finish_with(FinishReason reason);

    bool finished() const { return finished_; }
    FinishReason finish() const { return finish_; }
    int64_t stop_token() const { return stop_token_; }
    const std::vector<int64_t>& tokens() const { return tokens_; }

private:
    Sampler sampler_;
    std::vector<int64_t> stop_tokens_;
    int64_t max_new_tokens_, drawable_;
    std::vector<int64_t> tokens_;
    bool finished_ = false;
    FinishReason finish_ = FinishReason::max_new_tokens;
    int64_t stop_token_ = -1;
};

}  // namespace attend
