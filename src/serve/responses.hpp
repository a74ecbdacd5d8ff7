// serve/responses.hpp — OpenAI's response and chunk objects for one generation.
//
//   /v1/completions        {"id": "cmpl-…", "object": "text_completion", "created", "model",
//                           "choices": [{"index": 0, "text", "logprobs", "finish_reason"}], "usage"}
//   /v1/chat/completions   {"id": "chatcmpl-…", "object": "chat.completion", …,
//                           "choices": [{"index": 0, "message": {"role": "assistant", "content"},
//                                        "logprobs", "finish_reason"}], "usage"}
//   streamed               the same with "object": "text_completion" / "chat.completion.chunk",
//                          text in "text" / "delta": {"content"}, finish_reason null until the
//                          last chunk
// logprobs: completions {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}],
// "text_offset"}; chat {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
#pragma once
#include <deque>
#include <nlohmann/json.hpp>
#include <string>

#include "serve/request.hpp"
#include "serve/scheduler.hpp"

namespace attend::serve {

struct ResponseHeader {
    std::string id, model;
    int64_t created = 0;
    bool chat = false;
};

ResponseHeader new_header(const ServedModel& model, bool chat);  // a fresh id, now

nlohmann::json usage(int64_t prompt_tokens, int64_t completion_tokens);

// The whole answer (not streamed). events: every event of the job, in order.
nlohmann::json full_response(const ServedModel& model, const ResponseHeader& h, const GenerationRequest& r,
                             const std::deque<TokenEvent>& events, const std::string& tail,
                             const std::string& finish_reason, int64_t completion_tokens);

// One streamed chunk: text (and the events' logprobs when asked); finish_reason "" = null.
nlohmann::json chunk(const ServedModel& model, const ResponseHeader& h, const GenerationRequest& r,
                     const std::string& text, const std::deque<TokenEvent>& events, const std::string& finish_reason,
                     size_t text_offset);
// The chat stream's first chunk: delta {"role": "assistant", "content": ""}.
nlohmann::json role_chunk(const ResponseHeader& h);

// JSON text with invalid UTF-8 replaced (token labels may hold partial characters).
std::string dump(const nlohmann::json& j);

}  // namespace attend::serve
