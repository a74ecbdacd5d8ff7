// fuzz/chat_template.cpp — libFuzzer target for the chat-template (Jinja) interpreter (see
// fuzz/README.md).
//
// Each input is a template's source. It is parsed and, when it parses, rendered over a small
// conversation (Unicode, nested data, a system message). The only acceptable failure is an
// attend::ChatTemplateError whose message is one line; a crash, a sanitizer report, a hang
// past the render limits, a leak, or any other exception is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attend/chat_template.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto messages = nlohmann::ordered_json::parse(R"([
        {"role": "system", "content": " Be brief.\n"},
        {"role": "user", "content": "h\u00e9 {{ x }} \ud83d\ude00", "n": [1, 2.5, {"a": null, "b": true}]},
        {"role": "assistant", "content": "<think>hm</think>ok", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}])");
    const std::string source(reinterpret_cast<const char*>(data), size);
    try {
        const auto t = attend::ChatTemplate::from_string(source, "fuzz.jinja");
        attend::ChatRenderOptions options;
        options.bos_token = "<s>";
        options.eos_token = "</s>";
        options.add_generation_prompt = size % 2 == 1;
        (void)t.render(messages, options);
    } catch (const attend::ChatTemplateError& e) {
        if (std::string(e.what()).find('\n') != std::string::npos) __builtin_trap();  // errors are one line
    }
    return 0;
}
