// tokenizers/char_level.hpp — one token per character, for models trained here (nanoGPT's
// shakespeare_char): the vocabulary is the text's distinct Unicode code points, sorted, and a
// character's id is its rank — after the special tokens, if any (`attend train` adds "<pad>",
// "<bos>", "<eos>" for seq2seq and "[PAD]", "[MASK]" for BERT; a GPT has none, as nanoGPT).
//
//   auto tok = attend::CharTokenizer::from_text(corpus, {"<pad>", "<bos>", "<eos>"});
//   tok.save("out/tokenizer.json");  // {"type": "char", "specials": [...], "chars": ["\n", " ", ...]}
//   auto again = attend::load_tokenizer("out");  // finds it again beside the checkpoint
//
// Special tokens are ids 0 .. n_specials-1; encode() never produces them (text "<bos>" is five
// characters), decode() writes their names unless skip_special.
#pragma once
#include <string>
#include <unordered_map>

#include "attend/tokenizers/tokenizer.hpp"

namespace attend {

class CharTokenizer : public Tokenizer {
public:
    // The sorted distinct code points of text (which must be valid UTF-8).
    static CharTokenizer from_text(std::string_view text, const std::vector<std::string>& specials = {});
    // From the characters themselves, in id order (each one code point, no repeats).
    static CharTokenizer from_chars(const std::vector<std::string>& chars, const std::string& origin = "",
                                    const std::vector<std::string>& specials = {});
    // The JSON file save() writes; origin names it in errors.
    static CharTokenizer parse(std::string_view json, const std::string& origin);
    void save(const std::string& path) const;

    // A character outside the vocabulary is an error naming it (there is no [UNK]).
    using Tokenizer::encode;
    std::vector<int64_t> encode(std::string_view text, SpecialTokenMode specials) const override;
    std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
    std::string token_text(int64_t id) const override;
    std::optional<int64_t> token_id(std::string_view token) const override;
    int64_t vocab_size() const override { return n_specials() + int64_t(chars_.size()); }
    std::optional<int64_t> bos_id() const override { return special_id("<bos>"); }
    std::optional<int64_t> eos_id() const override { return special_id("<eos>"); }
    std::optional<int64_t> pad_id() const override;
    std::string_view kind() const override { return "char"; }
    const std::vector<std::string>& chars() const { return chars_; }
    const std::vector<std::string>& specials() const { return specials_; }
    int64_t n_specials() const { return int64_t(specials_.size()); }
    std::optional<int64_t> special_id(std::string_view name) const;

private:
    std::vector<std::string> specials_;            // id → name, ids 0 .. n_specials-1
    std::vector<std::string> chars_;               // id - n_specials → UTF-8 of one code point
    std::unordered_map<char32_t, int64_t> ids_;    // code point → id
};

}  // namespace attend
