// chat_template.hpp — a model's chat template (Jinja), rendered as Hugging Face transformers'
// apply_chat_template renders it: trim_blocks and lstrip_blocks on, the variables `messages`,
// `add_generation_prompt`, `bos_token`, `eos_token`, `tools`, and the globals
// `raise_exception` and `strftime_now`, `tojson` as json.dumps (ensure_ascii=False).
//
// The Jinja is attend's own interpreter (src/chat/): the subset real templates use —
// if/elif/else, for (loop.*, else, unpacking, inline if), set (incl. block set), namespace,
// macro/call, filter blocks, break/continue, the common filters, tests and str/dict methods.
// Renders are bounded (output size, steps, recursion), so a hostile template cannot hang.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "attend/error.hpp"

namespace attend {

// A template that fails to parse or render: what() is one line, "NAME:LINE: message".
class ChatTemplateError : public Error {
public:
    ChatTemplateError(const std::string& name, int line, const std::string& message, bool raised);
    const std::string& message() const { return message_; }  // without the location
    int line() const { return line_; }
    bool raised() const { return raised_; }  // the template called raise_exception(message)
private:
    std::string message_;
    int line_;
    bool raised_;
};

struct ChatRenderOptions {
    bool add_generation_prompt = false;
    std::string bos_token, eos_token;  // passed as given ("" renders nothing): see default_options()
    nlohmann::ordered_json tools = nullptr;  // null: `tools` is none, as transformers passes it
};

class ChatTemplate {
public:
    // The template file's text (throws attend::Error naming the file when unreadable,
    // ChatTemplateError when it does not parse).
    static ChatTemplate from_file(const std::filesystem::path& file);
    static ChatTemplate from_string(std::string source, std::string name = "<template>");
    // A model folder's template: chat_template.jinja, else tokenizer_config.json's
    // `chat_template` (a string, or the [{name, template}] list: the one named "default"),
    // else chat_template.json's. bos/eos defaults come from tokenizer_config.json.
    // nullopt when the folder has no template.
    static std::optional<ChatTemplate> from_model_dir(const std::filesystem::path& dir);

    // messages: a JSON array (of {"role", "content", ...} objects). Throws ChatTemplateError.
    // Objects keep their keys' order (tojson and `for k in d` follow it, as in Python), so
    // parse requests into nlohmann::ordered_json; a plain nlohmann::json has them sorted.
    std::string render(const nlohmann::ordered_json& messages, const ChatRenderOptions& options) const;
    std::string render(const nlohmann::json& messages, const ChatRenderOptions& options) const;

    // Options with bos_token/eos_token set to the model's (tokenizer_config.json), the rest default.
    ChatRenderOptions default_options() const;
    const std::string& bos_token() const { return bos_token_; }  // "" when unknown
    const std::string& eos_token() const { return eos_token_; }
    const std::string& name() const { return name_; }
    const std::string& source() const { return source_; }

    struct Parsed;  // the statement tree (src/chat)
private:
    std::shared_ptr<const Parsed> parsed_;
    std::string name_, source_, bos_token_, eos_token_;
};

}  // namespace attend
