// tokenizers/char_level.hpp — one token per character, for models trained here (nanoGPT's
// shakespeare_char): the vocabulary is the text's distinct Unicode code points, sorted, and a
// character's id is its rank.
//
//   auto tok = attend::CharTokenizer::from_text(corpus);
//   tok.save("out/tokenizer.json");           // {"type": "char", "chars": ["\n", " ", "!", ...]}
//   auto again = attend::load_tokenizer("out");  // finds it again beside the checkpoint
#pragma once
#include <string>
#include <unordered_map>

#include "attend/tokenizers/tokenizer.hpp"

namespace attend {

class CharTokenizer : public Tokenizer {
public:
    // The sorted distinct code points of text (which must be valid UTF-8).
    static CharTokenizer from_text(std::string_view text);
    // From the characters themselves, in id order (each one code point, no repeats).
    static CharTokenizer from_chars(const std::vector<std::string>& chars, const std::string& origin = "");
    // The JSON file save() writes; origin names it in errors.
    static CharTokenizer parse(std::string_view json, const std::string& origin);
    void save(const std::string& path) const;

    // A character outside the vocabulary is an error naming it (there is no [UNK]).
    std::vector<int64_t> encode(std::string_view text, bool add_special = false) const override;
    std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
    std::string token_text(int64_t id) const override;
    std::optional<int64_t> token_id(std::string_view token) const override;
    int64_t vocab_size() const override { return int64_t(chars_.size()); }
    std::string_view kind() const override { return "char"; }
    const std::vector<std::string>& chars() const { return chars_; }

private:
    std::vector<std::string> chars_;               // id → UTF-8 of one code point
    std::unordered_map<char32_t, int64_t> ids_;    // code point → id
};

}  // namespace attend
