// io/tokenizer_files.hpp — where a tokenizer sits beside a model: the one search order that
// load_model (a model's tokenizer_path), load_tokenizer (a folder) and copy_tokenizer_files use.
//
// In a folder (or the folder of a model file), the first that exists:
//   1. tok<vocab_size>.bin, when vocab_size > 0: llama2.c's trained vocabulary of exactly the
//      model's size, the strongest sign it belongs to this model;
//   2. Hugging Face's: tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe
//      (a GPT-2 vocabulary counts only with its merges), vocab.txt (WordPiece);
//   3. llama2.c's: tokenizer.bin, then tok<N>.bin, the first by name.
//
// Implemented in src/io/tokenizer_files.cpp.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace attend {

// The tokenizer file for `path` (a folder, or a model file: its folder is searched), or
// nothing when none is there (a caller looks beside a model without catching errors).
std::optional<std::string> find_tokenizer(const std::string& path, int64_t vocab_size = 0);

// The names searched, in order, for messages ("no tokenizer in this folder (looked for ...)").
inline constexpr const char* kTokenizerFilesLookedFor =
    "tok<vocab size>.bin, tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe, vocab.txt, "
    "tokenizer.bin or tok*.bin";

}  // namespace attend
