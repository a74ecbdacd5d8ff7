// serve/chat_prompt.hpp — chat messages to the prompt a model continues.
//
// Today every model gets the plain fallback below (README, "Serve a model"); a model whose
// folder has a Jinja chat template will be rendered by it instead, here and nowhere else.
//
// The plain fallback, for messages [{role, content}, ...]:
//     "<Role>: <content>\n" per message, Role capitalised ("System", "User", "Assistant", ...)
//     then "Assistant:" when add_generation_prompt
// tokenized as a completion prompt is (the tokenizer's special tokens added: Llama's BOS).
//
// Content is a string, null, or a list of parts of which the {"type": "text", "text"} ones
// are joined. Bad messages are an ApiError (400) naming the field.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve/served_model.hpp"

namespace attend::serve {

std::string chat_prompt(const ServedModel& model, const nlohmann::json& messages, bool add_generation_prompt);

// The ids of that prompt (whether special tokens are added depends on where it came from: a
// template writes its own BOS).
std::vector<int64_t> chat_prompt_ids(const ServedModel& model, const nlohmann::json& messages,
                                     bool add_generation_prompt);

}  // namespace attend::serve
