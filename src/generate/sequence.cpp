// generate/sequence.cpp — one sequence's draw-and-stop decisions (generate/sequence.hpp).
#include "attend/generate/sequence.hpp"

#include <algorithm>

#include "attend/error.hpp"
#include "attend/profile.hpp"

namespace attend {

const char* name_of(FinishReason reason) {
    switch (reason) {
        case FinishReason::stop_token: return "stop_token";
        case FinishReason::max_new_tokens: return "max_new_tokens";
        case FinishReason::context_full: return "context_full";
        case FinishReason::stop_string: return "stop_string";
        case FinishReason::cancelled: return "cancelled";
    }
    return "?";
}

SequenceDecoder::SequenceDecoder(const SamplingOptions& sampling, uint64_t seed, std::vector<int64_t> stop_tokens,
                                 int64_t max_new_tokens, int64_t drawable)
    : sampler_(sampling, seed), stop_tokens_(std::move(stop_tokens)), max_new_tokens_(max_new_tokens),
      drawable_(drawable) {
    ATTEND_CHECK(max_new_tokens >= 0, "max_new_tokens must be ≥ 0, got ", max_new_tokens);
    ATTEND_CHECK(drawable > 0, "a sequence needs at least one drawable token, got ", drawable);
    if (max_new_tokens == 0) finished_ = true;
    // Room for the tokens up front (to a bound: the limit may be a user's "no limit"), so the
    // decoding loop does not grow the vector as it goes.
    tokens_.reserve(size_t(std::min<int64_t>(max_new_tokens, 4096)));
}

SequenceDecoder::Step SequenceDecoder::next(const float* logits) {
    ATTEND_CHECK(!finished_, "SequenceDecoder::next on a finished sequence");
    Step s;
    {
        const PhaseScope phase("sample");
        s.token = sampler_(logits, drawable_);
    }
    if (std::find(stop_tokens_.begin(), stop_tokens_.end(), s.token) != stop_tokens_.end()) {
        finished_ = true;
        finish_ = FinishReason::stop_token;
        stop_token_ = s.token;
        return s;
    }
    s.kept = true;
    tokens_.push_back(s.token);
    if (int64_t(tokens_.size()) >= max_new_tokens_) finish_with(FinishReason::max_new_tokens);
    return s;
}

void SequenceDecoder::finish_with(FinishReason reason) {
    if (finished_) return;
    finished_ = true;
    finish_ = reason;
}

}  // namespace attend
