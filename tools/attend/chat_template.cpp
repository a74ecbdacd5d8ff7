// tools/attend/chat_template.cpp — `attend chat-template (--model DIR | --template FILE)
// --messages FILE.json [--add-generation-prompt] [--bos-token S] [--eos-token S]
// [--tools FILE.json]`: the prompt a model's chat template makes of a conversation, byte for
// byte as Hugging Face transformers' apply_chat_template(tokenize=False) gives it (nothing
// added: no final newline).
#include <cstdio>
#include <memory>
#include <string>

#include "attend/chat_template.hpp"
#include "attend/error.hpp"
#include "attend/read_file.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

struct ChatTemplateOptions {
    std::string model, template_file, messages, tools, bos, eos;
    bool add_generation_prompt = false;
};

nlohmann::ordered_json read_json_file(const std::string& path, const char* what) {
    const std::string text = read_file(path, std::string(what) + " JSON file");
    try {
        return nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        std::string message = e.what();
        for (char& c : message)
            if (c == '\n') c = ' ';
        throw Error(path + ": invalid JSON (" + what + "): " + message);
    }
}

void run_chat_template(const ChatTemplateOptions& o, bool bos_given, bool eos_given) {
    std::optional<ChatTemplate> tmpl;
    if (!o.model.empty()) {
        tmpl = ChatTemplate::from_model_dir(o.model);
        if (!tmpl)
            throw Error(o.model + ": no chat template (no chat_template.jinja, and tokenizer_config.json has no chat_template)");
    } else {
        tmpl = ChatTemplate::from_file(o.template_file);
    }
    const nlohmann::ordered_json messages = read_json_file(o.messages, "--messages");
    if (!messages.is_array()) throw Error(o.messages + ": --messages: expected a JSON array of messages");
    ChatRenderOptions options = tmpl->default_options();
    options.add_generation_prompt = o.add_generation_prompt;
    if (bos_given) options.bos_token = o.bos;
    if (eos_given) options.eos_token = o.eos;
    if (!o.tools.empty()) {
        options.tools = read_json_file(o.tools, "--tools");
        if (!options.tools.is_array() && !options.tools.is_null())
            throw Error(o.tools + ": --tools: expected a JSON array of tools");
    }
    const std::string prompt = tmpl->render(messages, options);
    if (std::fwrite(prompt.data(), 1, prompt.size(), stdout) != prompt.size() || std::fflush(stdout) != 0)
        throw Error("<stdout>: write failed");
}

}  // namespace

void register_chat_template(CLI::App& app) {
    auto o = std::make_shared<ChatTemplateOptions>();
    CLI::App* cmd = app.add_subcommand("chat-template", "Render a conversation with a model's chat template (Jinja)");
    cmd->footer(
        "\nPrints the prompt exactly as Hugging Face transformers' apply_chat_template renders it\n"
        "(tokenize=False): trim_blocks and lstrip_blocks on; no newline is added. With --model the\n"
        "template is the folder's chat_template.jinja or tokenizer_config.json's chat_template, and\n"
        "bos/eos default to tokenizer_config.json's. A template that calls raise_exception(msg)\n"
        "fails with msg.\n\n"
        "Examples:\n"
        "  attend chat-template --model Qwen2.5-0.5B-Instruct --messages chat.json --add-generation-prompt\n"
        "  attend chat-template --template llama3.jinja --messages chat.json --bos-token '<|begin_of_text|>'");
    CLI::Option* model = cmd->add_option("--model", o->model, "Model folder (chat_template.jinja or tokenizer_config.json)");
    CLI::Option* file = cmd->add_option("--template", o->template_file, "Jinja template file");
    model->excludes(file);
    file->excludes(model);
    cmd->add_option("--messages", o->messages, "JSON file: an array of {\"role\", \"content\"} messages")->required();
    cmd->add_flag("--add-generation-prompt", o->add_generation_prompt, "End with the header of an assistant turn");
    CLI::Option* bos = cmd->add_option("--bos-token", o->bos, "bos_token (default: the model's, else empty)");
    CLI::Option* eos = cmd->add_option("--eos-token", o->eos, "eos_token (default: the model's, else empty)");
    cmd->add_option("--tools", o->tools, "JSON file: an array of tool (function) definitions, passed as `tools`");
    cmd->callback([o, model, file, bos, eos] {
        if (model->count() == 0 && file->count() == 0) throw Error("chat-template: give --model DIR or --template FILE");
        run_chat_template(*o, bos->count() > 0, eos->count() > 0);
    });
}

}  // namespace attend::cli
