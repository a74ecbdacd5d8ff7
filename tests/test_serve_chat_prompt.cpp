// test_serve_chat_prompt.cpp — the ids `attend serve` starts a chat from. A rendered chat
// template is tokenized as transformers' apply_chat_template does it (add_special_tokens=False:
// special-token text becomes its ids, nothing is added), so a template that writes BOS itself
// (Llama-2/3, Gemma...) gets exactly one; the plain fallback is a completion prompt (BOS added).
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "attend/chat_template.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "serve/chat_prompt.hpp"
#include "support/files.hpp"

using namespace attend;
using attend::testing::shared_data;

TEST(ChatPromptIds, SpecialTokenModes) {
    // Llama-2's vocabulary (llama.cpp's vocabulary file), its chat template's opening.
    const auto tok = load_tokenizer(shared_data("llamacpp_vocab_tests/ggml-vocab-llama-spm.gguf"));
    const std::string rendered = "<s>[INST] Hello [/INST]";
    // transformers: tokenizer(rendered, add_special_tokens=False).input_ids — one BOS.
    const std::vector<int64_t> hf = {1, 518, 25580, 29962, 15043, 518, 29914, 25580, 29962};
    EXPECT_EQ(tok->encode(rendered, SpecialTokenMode::parse), hf);
    // add: the tokenizer's BOS as well — the double BOS a rendered template must not get.
    std::vector<int64_t> twice = hf;
    twice.insert(twice.begin(), 1);
    EXPECT_EQ(tok->encode(rendered, SpecialTokenMode::add), twice);
    EXPECT_EQ(tok->encode(rendered, true), twice);
    // as_text: "<s>" is five characters, no BOS anywhere.
    const std::vector<int64_t> text = tok->encode(rendered, SpecialTokenMode::as_text);
    EXPECT_EQ(std::count(text.begin(), text.end(), 1), 0);
    EXPECT_EQ(tok->encode(rendered), text);
}

TEST(ChatPromptIds, ARenderedTemplateWritesItsOwnSpecialTokens) {
    serve::ServedModel served(load_text_model(shared_data("stories260K/stories260K.bin")));
    const int64_t bos = *served.lm.bos();
    const nlohmann::json messages = nlohmann::json::parse(R"([{"role": "user", "content": "Once upon a time"}])");
    const auto ids = [&](const std::string& source) {
        served.chat_template = ChatTemplate::from_string(source);
        return serve::chat_prompt_ids(served, messages, false);
    };
    // Writes BOS: one BOS, then the text as a completion prompt has it (BOS added once).
    const std::vector<int64_t> with_bos = ids("<s>{% for m in messages %}{{ m['content'] }}{% endfor %}");
    EXPECT_EQ(with_bos, served.lm.prompt_ids("Once upon a time"));
    EXPECT_EQ(with_bos.at(0), bos);
    EXPECT_NE(with_bos.at(1), bos);
    // Writes none: none is added (transformers adds none either).
    const std::vector<int64_t> without = ids("{% for m in messages %}{{ m['content'] }}{% endfor %}");
    EXPECT_EQ(without, served.lm.tokenizer->encode("Once upon a time", SpecialTokenMode::as_text));
    EXPECT_NE(without.at(0), bos);
    // No template: the plain fallback, a completion prompt (BOS first).
    served.chat_template.reset();
    EXPECT_EQ(serve::chat_prompt_ids(served, messages, true), served.lm.prompt_ids("User: Once upon a time\nAssistant:"));
}
