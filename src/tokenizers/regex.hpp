// tokenizers/regex.hpp — the regular expressions tokenizer.json's Split pre-tokenizer and
// Replace normalizer/decoder carry, and the pre-tokenizer patterns GGUF vocabularies name.
//
// Hugging Face compiles them with Oniguruma (Ruby syntax); we use PCRE2 in UTF + UCP mode,
// which reads the same patterns (\p{L}, \p{N}, lookaheads, possessive and lazy quantifiers)
// the same way. In Ruby syntax ^ and $ are line anchors, hence PCRE2_MULTILINE. Text that is
// not UTF-8 is matched with PCRE2_MATCH_INVALID_UTF: a bad byte is never part of a match.
// Internal to src/tokenizers.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attend::tokenizers {

class Regex {
public:
    // Throws attend::Error("<origin>: <what> pattern ... does not compile: ...") on a bad pattern.
    Regex(const std::string& pattern, const std::string& origin, const std::string& what);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Every non-overlapping match, left to right, as [begin, end) byte ranges. An empty match
    // advances one character, as Oniguruma's find_iter does.
    std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
    const std::string& pattern() const { return pattern_; }

private:
    std::string pattern_;
    void* code_ = nullptr;  // pcre2_code_8 (kept out of the header)
};

// A literal string, as a pattern that matches it (tokenizer.json's {"String": ...}).
std::string regex_quote(std::string_view literal);

}  // namespace attend::tokenizers
