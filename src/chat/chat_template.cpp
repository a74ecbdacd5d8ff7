// chat/chat_template.cpp — attend::ChatTemplate: finds a model's template, parses it once, and
// renders conversations with the variables transformers' apply_chat_template passes.
#include "attend/chat_template.hpp"

#include <cstdint>
#include <string_view>

#include "attend/read_file.hpp"
#include "chat/jinja_eval.hpp"
#include "chat/jinja_parser.hpp"

namespace attend {

struct ChatTemplate::Parsed {
    jinja::Body body;
    jinja::Limits limits;
};

ChatTemplateError::ChatTemplateError(const std::string& name, int line, const std::string& message, bool raised)
    : Error(name + ":" + std::to_string(line) + ": " + message), message_(message), line_(line), raised_(raised) {}

namespace {

// One line: a message may carry newlines (raise_exception's text); they print as spaces.
std::string one_line(std::string s) {
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

// A template or the tokenizer_config.json holding one: real ones are kilobytes.
constexpr uint64_t kMaxTemplateFileBytes = uint64_t(64) << 20;

std::string read_template_file(const std::filesystem::path& file, std::string_view kind) {
    return read_file(file.string(), kind, kMaxTemplateFileBytes);
}

// A special token in tokenizer_config.json: "text", {"content": "text", ...} or null.
std::string token_text(const nlohmann::json& config, const char* key, const std::string& file) {
    if (!config.contains(key) || config[key].is_null()) return "";
    const auto& t = config[key];
    if (t.is_string()) return t.get<std::string>();
    if (t.is_object() && t.contains("content") && t["content"].is_string()) return t["content"].get<std::string>();
    throw Error(file + ": " + key + ": expected a string or {\"content\": ...}");
}

std::string template_from_config(const nlohmann::json& value, const std::string& file) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_array()) {
        std::string names;
        for (const auto& entry : value) {
            if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
                !entry["template"].is_string())
                throw Error(file + ": chat_template: expected a list of {\"name\", \"template\"} objects");
            if (entry["name"] == "default") return entry["template"].get<std::string>();
            names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
        }
        throw Error(file + ": chat_template: no template named \"default\" (has: " + names + ")");
    }
    throw Error(file + ": chat_template: expected a string or a list of {\"name\", \"template\"}");
}

nlohmann::json read_json(const std::filesystem::path& file) {
    try {
        return nlohmann::json::parse(read_template_file(file, "JSON file"));
    } catch (const nlohmann::json::exception& e) {
        throw Error(file.string() + ": invalid JSON: " + one_line(e.what()));
    }
}

}  // namespace

ChatTemplate ChatTemplate::from_string(std::string source, std::string name) {
    ChatTemplate t;
    auto parsed = std::make_shared<Parsed>();
    try {
        parsed->body = jinja::parse(source, parsed->limits);
    } catch (const jinja::TemplateError& e) {
        throw ChatTemplateError(name, e.line, one_line(e.what()), false);
    }
    t.parsed_ = std::move(parsed);
    t.name_ = std::move(name);
    t.source_ = std::move(source);
    return t;
}

ChatTemplate ChatTemplate::from_file(const std::filesystem::path& file) {
    return from_string(read_template_file(file, "chat template"), file.string());
}

std::optional<ChatTemplate> ChatTemplate::from_model_dir(const std::filesystem::path& dir) {
    if (!std::filesystem::is_directory(dir)) throw Error(dir.string() + ": not a folder");
    std::optional<ChatTemplate> found;
    const auto config_file = dir / "tokenizer_config.json";
    nlohmann::json config = nlohmann::json::object();
    if (std::filesystem::exists(config_file)) {
        config = read_json(config_file);
        if (!config.is_object()) throw Error(config_file.string() + ": expected a JSON object");
    }
    if (std::filesystem::exists(dir / "chat_template.jinja")) {
        found = from_file(dir / "chat_template.jinja");
    } else if (config.contains("chat_template") && !config["chat_template"].is_null()) {
        found = from_string(template_from_config(config["chat_template"], config_file.string()),
                            config_file.string() + ":chat_template");
    } else if (std::filesystem::exists(dir / "chat_template.json")) {
        const auto file = dir / "chat_template.json";
        const nlohmann::json j = read_json(file);
        if (!j.is_object() || !j.contains("chat_template")) throw Error(file.string() + ": no \"chat_template\" field");
        found = from_string(template_from_config(j["chat_template"], file.string()), file.string() + ":chat_template");
    }
    if (!found) return std::nullopt;
    found->bos_token_ = token_text(config, "bos_token", config_file.string());
    found->eos_token_ = token_text(config, "eos_token", config_file.string());
    return found;
}

ChatRenderOptions ChatTemplate::default_options() const {
    ChatRenderOptions o;
    o.bos_token = bos_token_;
    o.eos_token = eos_token_;
    return o;
}

std::string ChatTemplate::render(const nlohmann::json& messages, const ChatRenderOptions& options) const {
    return render(nlohmann::ordered_json(messages), options);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const ChatRenderOptions& options) const {
    if (!messages.is_array()) throw ChatTemplateError(name_, 0, "messages: expected a JSON array", false);
    if (!options.tools.is_null() && !options.tools.is_array())
        throw ChatTemplateError(name_, 0, "tools: expected a JSON array or null", false);
    try {
        std::unordered_map<std::string, jinja::Value> vars;
        vars["messages"] = jinja::Value::from_json(messages);
        vars["add_generation_prompt"] = jinja::Value::from_bool(options.add_generation_prompt);
        vars["bos_token"] = jinja::Value::from_string(options.bos_token);
        vars["eos_token"] = jinja::Value::from_string(options.eos_token);
        vars["tools"] = jinja::Value::from_json(options.tools);
        vars["documents"] = jinja::Value::none();
        jinja::Evaluator ev(parsed_->limits, std::move(vars));
        return ev.render(parsed_->body);
    } catch (const jinja::TemplateError& e) {
        throw ChatTemplateError(name_, e.line, one_line(e.what()), e.raised);
    }
}

}  // namespace attend
