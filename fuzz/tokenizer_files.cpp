// fuzz/tokenizer_files.cpp — libFuzzer target for the tokenizer-file readers (see fuzz/README.md).
//
// The first byte of an input picks the reader, the rest is the file's bytes:
//   0  llama2.c tokenizer.bin               3  vocab.json, a NUL byte, merges.txt (GPT-2)
//   1  Hugging Face tokenizer.json          4  our character vocabulary (JSON)
//   2  BERT vocab.txt
// A bad file must end in attend::Error; a crash, a sanitizer report, a hang, or any other
// exception (a stray nlohmann::json error, std::bad_alloc from a lying size) is a finding.
// A file that loads is then used: encode and decode a few strings (and the input itself as
// text), name tokens, stream — so a vocabulary that parses but breaks the encoders is caught too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "attend/error.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "attend/tokenizers/tokenizer.hpp"

namespace {

void exercise(const attend::Tokenizer& tok, std::string_view input) {
    const std::string_view texts[] = {"", " ", "Hello world", "  multiple   spaces\n\n\ttabs",
                                      "caf\xc3\xa9 \xf0\x9f\xa6\x99 \xe6\x97\xa5\xe6\x9c\xac", "<|endoftext|>[CLS]<s>",
                                      "\xff\xfe broken \xc3", input.substr(0, 256)};
    for (std::string_view text : texts) {
        for (bool special : {false, true}) {
            std::vector<int64_t> ids;
            try {
                ids = tok.encode(text, special);
            } catch (const attend::Error&) {
                continue;  // the character vocabulary refuses characters it lacks
            }
            for (int64_t id : ids)
                if (id < 0 || id >= tok.vocab_size()) __builtin_trap();  // encode made an id decode cannot take
            (void)tok.decode(ids, false);
            (void)tok.decode(ids, true);
            attend::DecodeStream stream(tok);
            for (int64_t id : ids) (void)stream.push(id);
            (void)stream.finish();
        }
    }
    for (int64_t id = 0; id < tok.vocab_size() && id < 300; ++id) {
        try {
            const std::string label = tok.token_text(id);
            (void)tok.token_id(label);
        } catch (const attend::Error&) {  // a gap in a hand-made vocabulary's ids
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const std::string_view file(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        std::unique_ptr<attend::Tokenizer> tok;
        switch (data[0] % 5) {
            case 0: tok = attend::tokenizers::parse_llama2c(file, "fuzz/tokenizer.bin"); break;
            case 1: tok = attend::tokenizers::parse_hf_tokenizer_json(file, "fuzz/tokenizer.json"); break;
            case 2: tok = attend::tokenizers::parse_wordpiece_vocab(file, {}, "fuzz/vocab.txt"); break;
            case 3: {
                const size_t nul = file.find('\0');
                const std::string_view vocab = file.substr(0, nul);
                const std::string_view merges = nul == std::string_view::npos ? std::string_view() : file.substr(nul + 1);
                tok = attend::tokenizers::parse_gpt2(vocab, merges, "fuzz/vocab.json", "fuzz/merges.txt");
                break;
            }
            default:
                tok = std::make_unique<attend::CharTokenizer>(attend::CharTokenizer::parse(file, "fuzz/chars.json"));
        }
        exercise(*tok, file);
    } catch (const attend::Error&) {
        // Refused with a message: the expected outcome for most inputs.
    }
    return 0;
}
