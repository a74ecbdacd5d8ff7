// serve/chat_prompt.cpp — messages → prompt (serve/chat_prompt.hpp).
#include "serve/chat_prompt.hpp"

#include <cctype>

#include "serve/api_error.hpp"

namespace attend::serve {

namespace {

// The text of message i's content (string, null, or text parts).
std::string content_text(const nlohmann::json& content, size_t i) {
    const std::string where = "messages[" + std::to_string(i) + "].content";
    if (content.is_null()) return "";
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) throw ApiError(400, where + " must be a string or a list of parts", where);
    std::string out;
    for (const auto& part : content) {
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
            throw ApiError(400, where + ": each part must be an object with a \"type\"", where);
        if (part["type"] != "text") continue;  // images and audio: not for a text model
        if (!part.contains("text") || !part["text"].is_string())
            throw ApiError(400, where + ": a text part needs a string \"text\"", where);
        out += part["text"].get<std::string>();
    }
    return out;
}

}  // namespace

std::string chat_prompt(const ServedModel& model, const nlohmann::json& messages, bool add_generation_prompt) {
    if (!messages.is_array() || messages.empty())
        throw ApiError(400, "messages must be a non-empty list of {role, content} objects", "messages");
    if (model.chat_template) {
        // The model's own template, as transformers' apply_chat_template renders it. (The
        // request was parsed into sorted-key JSON, so a template's tojson of a message shows
        // keys in sorted order.) A template's raise_exception is the client's error.
        ChatRenderOptions options = model.chat_template->default_options();
        options.add_generation_prompt = add_generation_prompt;
        try {
            return model.chat_template->render(nlohmann::ordered_json(messages), options);
        } catch (const ChatTemplateError& e) {
            throw ApiError(400, std::string("the model's chat template: ") + e.what(), "messages");
        }
    }
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
        const auto& m = messages[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) throw ApiError(400, where + " must be an object", where);
        if (!m.contains("role") || !m["role"].is_string() || m["role"].get<std::string>().empty())
            throw ApiError(400, where + ".role must be a non-empty string", where + ".role");
        std::string role = m["role"].get<std::string>();
        role[0] = char(std::toupper(static_cast<unsigned char>(role[0])));
        out += role + ": " + content_text(m.contains("content") ? m["content"] : nlohmann::json(nullptr), i) + "\n";
    }
    if (add_generation_prompt) out += "Assistant:";
    return out;
}

std::vector<int64_t> chat_prompt_ids(const ServedModel& model, const nlohmann::json& messages,
                                     bool add_generation_prompt) {
    const std::string prompt = chat_prompt(model, messages, add_generation_prompt);
    if (!model.chat_template) return model.lm.prompt_ids(prompt);
    std::vector<int64_t> ids = model.lm.tokenizer->encode(prompt, SpecialTokenMode::parse);
    return ids.empty() ? model.lm.prompt_ids("") : ids;  // prompt_ids gives an empty text its start token
}

}  // namespace attend::serve
