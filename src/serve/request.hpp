// serve/request.hpp — request bodies checked and turned into what the scheduler runs.
// Every problem is an ApiError (400) that names the field (OpenAI's "param"):
//   not JSON / not an object, a field of the wrong type, an unknown model, n ≠ 1,
//   temperature ∉ [0, 2], top_p ∉ (0, 1], top_k < 0, logprobs ∉ [0, 20], more than 4 stop
//   strings, token ids outside the vocabulary, prompt + max_tokens past the context.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attend/generate/sampler.hpp"
#include "serve/served_model.hpp"

namespace attend::serve {

struct GenerationRequest {
    bool chat = false, stream = false, include_usage = false;
    std::vector<int64_t> prompt;
    SamplingOptions sampling;
    uint64_t seed = 0;  // from the request, or drawn
    int64_t max_tokens = 16;
    std::vector<std::string> stop;
    int64_t logprobs = -1;  // top-N; -1: none
};

nlohmann::json parse_body(const std::string& body);  // 400 unless a JSON object

GenerationRequest parse_completion(const ServedModel& model, const nlohmann::json& body);
GenerationRequest parse_chat(const ServedModel& model, const nlohmann::json& body);

// /v1/embeddings: the texts of "input" (a string or a list of strings).
std::vector<std::string> parse_embedding_inputs(const ServedModel& model, const nlohmann::json& body);

}  // namespace attend::serve
