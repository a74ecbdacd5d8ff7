// serve/chat_prompt.hpp — chat messages to the prompt a model continues.
//
// A model whose folder has a Jinja chat template is rendered by it (ServedModel::chat_template),
// here and nowhere else; any other model gets the plain fallback below (README, "Serve a model").
//
// The plain fallback, for messages [{role, content}, ...]:
//     "<Role>: <content>\n" per message, Role capitalised ("System", "User", "Assistant", ...)
//     then "Assistant:" when add_generation_prompt
// tokenized as a completion prompt is (the tokenizer's special tokens added: Llama's BOS).
// A rendered template is not: it writes the special tokens it wants itself.
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

// The ids of that prompt. A rendered chat template: SpecialTokenMode::parse — special-token text
// (the "<s>", "<|begin_of_text|>" or "<bos>" the template writes) maps to its ids and nothing
// is added, as transformers' apply_chat_template tokenizes with add_special_tokens=False, so a
// template that writes BOS gets exactly one. The plain fallback: as a completion prompt
// (SpecialTokenMode::add: the tokenizer's own BOS first). An empty encoding starts from BOS.
std::vector<int64_t> chat_prompt_ids(const ServedModel& model, const nlohmann::json& messages,
                                     bool add_generation_prompt);

}  // namespace attend::serve
