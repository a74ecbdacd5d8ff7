// serve/chat_prompt.hpp — chat messages to the prompt a model continues.
//
// A model whose folder has a Jinja chat template is rendered by it (ServedModel::chat_template),
// here and nowhere else; any other model gets the plain fallback below (README, "Serve a model").
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

// The ids of that prompt, encoded as a completion prompt is (add_special: special-token text
// maps to its ids, and the tokenizer's own BOS is added). Known gap: transformers encodes a
// rendered template with add_special_tokens=False, so a template that writes its own BOS
// ("<s>", "<|begin_of_text|>") gets it twice here.
std::vector<int64_t> chat_prompt_ids(const ServedModel& model, const nlohmann::json& messages,
                                     bool add_generation_prompt);

}  // namespace attend::serve
