// python/src/text_generation.hpp — one generation call as the CLI makes it, for model.generate
// (all pieces collected) and model.stream (pieces handed to another thread).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attend/generate/generate.hpp"
#include "attend/generate/text_model.hpp"

namespace attend::python {

struct GenerationRequest {
    std::vector<std::string> prompts;
    int64_t max_tokens = 128;
    float temperature = 1.f, top_p = 0.9f;
    int64_t top_k = 0;
    std::optional<uint64_t> seed;  // none: from the clock, as `attend generate` without --seed
    std::vector<std::string> stop;
    bool echo = false;  // the prompt's text (as the tokenizer reads it back) first
    std::string kv_cache = "f32";  // what the KV cache holds: "f32" or "bf16" (`--kv-cache`)
};

// Called with (sequence, text piece) as each piece becomes final; returning true cancels
// that sequence (it ends after the current token).
using PieceSink = std::function<bool(int64_t sequence, const std::string& piece)>;

// Runs `attend generate`'s loop (generate/text_stream.hpp's TextStream per sequence, so the
// text is byte for byte the CLI's) on every prompt in one batch; sequence b samples with seed
// + b. Runs without the GIL: `sink` must not touch Python unless it acquires the GIL.
void run_generation(const TextModel& lm, const GenerationRequest& request, const PieceSink& sink);

// An Error unless `lm` is a decoder with an lm head (what generate needs).
void check_language_model(const TextModel& lm, const char* what);

}  // namespace attend::python
