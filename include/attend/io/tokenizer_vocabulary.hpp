// io/tokenizer_vocabulary.hpp — a tokenizer's vocabulary as plain data, for the writers of
// other formats (GGUF). Tokenizers make one (Tokenizer::vocabulary); io writes it without
// knowing tokenizers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attend {

// A vocabulary as a writer of another format needs it (GGUF's tokenizer.ggml.* keys), in
// llama.cpp's spelling: "gpt2" tokens byte-mapped as in vocab.json ("Ġthe") with merges
// "left right" in rank order; "llama" SentencePiece pieces with U+2581 for spaces and their
// scores; "bert" WordPiece tokens with word-initial pieces prefixed by U+2581 and "##" removed
// from continuations. types: llama.cpp's token types (1 normal, 2 unknown, 3 control,
// 4 user-defined, 5 unused, 6 byte), one per token.
struct TokenizerVocabulary {
    std::string model;
    std::vector<std::string> tokens;
    std::vector<float> scores;        // "llama" only
    std::vector<int32_t> types;
    std::vector<std::string> merges;  // "gpt2" only
    std::string pre;                  // "gpt2": tokenizer.ggml.pre (empty: "gpt-2")
};

}  // namespace attend
