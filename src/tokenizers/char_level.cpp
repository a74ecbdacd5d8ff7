// tokenizers/char_level.cpp — one token per Unicode character, saved as a small JSON file:
//   {"type": "char", "specials": ["<pad>", ...], "chars": ["\n", " ", "!", ...]}
//   (id = position in "specials", then n_specials + position in "chars"; "specials" optional)
#include "attend/tokenizers/char_level.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "attend/error.hpp"
#include "core/atomic_file.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/unicode.hpp"

namespace attend {

using tokenizers::quote_token;

CharTokenizer CharTokenizer::from_text(std::string_view text, const std::vector<std::string>& specials) {
    std::set<char32_t> seen;
    for (size_t i = 0; i < text.size();) {
        const unicode::Utf8Step s = unicode::next_utf8(text, i);
        ATTEND_CHECK(s.valid, "byte ", i, " of the text is not UTF-8; a character vocabulary needs valid UTF-8");
        seen.insert(s.cp);
        i += s.len;
    }
    std::vector<std::string> chars;
    for (char32_t c : seen) chars.push_back(unicode::to_utf8(c));  // sorted by code point, as nanoGPT's sorted(set(text))
    return from_chars(chars, "", specials);
}

CharTokenizer CharTokenizer::from_chars(const std::vector<std::string>& chars, const std::string& origin,
                                        const std::vector<std::string>& specials) {
    CharTokenizer t;
    t.source_ = origin;
    const std::string where = origin.empty() ? "character vocabulary" : origin;
    for (const std::string& name : specials) {
        if (name.empty()) bad_file(where, "special token " + std::to_string(t.specials_.size()) + " has an empty name");
        if (t.special_id(name)) bad_file(where, "special token " + quote_token(name) + " appears twice");
        t.specials_.push_back(name);
    }
    for (const std::string& ch : chars) {
        const unicode::Utf8Step s = ch.empty() ? unicode::Utf8Step{0, 0, false} : unicode::next_utf8(ch, 0);
        if (!s.valid || s.len != ch.size())
            bad_file(where, "entry " + std::to_string(t.chars_.size()) + " " + quote_token(ch) + " is not exactly one UTF-8 character");
        if (!t.ids_.emplace(s.cp, t.n_specials() + int64_t(t.chars_.size())).second)
            bad_file(where, "character " + quote_token(ch) + " (" + unicode::code_point_name(s.cp) + ") appears twice");
        t.chars_.push_back(ch);
    }
    if (t.chars_.empty()) bad_file(where, "the character vocabulary is empty");
    return t;
}

CharTokenizer CharTokenizer::parse(std::string_view json_text, const std::string& origin) {
    const nlohmann::json j = tokenizers::parse_json(json_text, origin);
    if (!j.is_object() || !j.contains("type") || j["type"] != "char")
        bad_file(origin, "not a character tokenizer (expected {\"type\": \"char\", \"chars\": [...]})");
    if (!j.contains("chars") || !j["chars"].is_array()) bad_file(origin, "\"chars\" is not a list of characters");
    const auto strings = [&](const char* key) {
        std::vector<std::string> out;
        for (const auto& c : j[key]) {
            if (!c.is_string()) bad_file(origin, std::string("\"") + key + "\"[" + std::to_string(out.size()) + "] is not a string");
            out.push_back(c.get<std::string>());
        }
        return out;
    };
    std::vector<std::string> specials;
    if (j.contains("specials")) {
        if (!j["specials"].is_array()) bad_file(origin, "\"specials\" is not a list of token names");
        specials = strings("specials");
    }
    return from_chars(strings("chars"), origin, specials);
}

void CharTokenizer::save(const std::string& path) const {
    nlohmann::json j = {{"type", "char"}};
    if (!specials_.empty()) j["specials"] = specials_;
    j["chars"] = chars_;
    write_text_atomically(path, j.dump(1) + "\n");
}

std::vector<int64_t> CharTokenizer::encode(std::string_view text, SpecialTokenMode) const {
    std::vector<int64_t> ids;
    ids.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const unicode::Utf8Step s = unicode::next_utf8(text, i);
        ATTEND_CHECK(s.valid, "byte ", i, " of the text is not UTF-8");
        const auto it = ids_.find(s.cp);
        ATTEND_CHECK(it != ids_.end(), "character ", quote_token(text.substr(i, s.len)), " (", unicode::code_point_name(s.cp),
                     ") at byte ", i, " is not in the ", chars_.size(), "-character vocabulary",
                     source_.empty() ? "" : " of ", source_);
        ids.push_back(it->second);
        i += s.len;
    }
    return ids;
}

std::string CharTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
    std::string out;
    for (int64_t id : ids) {
        const std::string text = token_text(id);  // checks the range
        if (!(skip_special && id < n_specials())) out += text;
    }
    return out;
}

std::string CharTokenizer::token_text(int64_t id) const {
    ATTEND_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is outside the character vocabulary (0 .. ",
                 vocab_size() - 1, ")");
    return id < n_specials() ? specials_[size_t(id)] : chars_[size_t(id - n_specials())];
}

std::optional<int64_t> CharTokenizer::special_id(std::string_view name) const {
    for (size_t i = 0; i < specials_.size(); ++i)
        if (specials_[i] == name) return int64_t(i);
    return std::nullopt;
}

std::optional<int64_t> CharTokenizer::pad_id() const {
    if (auto id = special_id("<pad>")) return id;
    return special_id("[PAD]");
}

std::optional<int64_t> CharTokenizer::token_id(std::string_view token) const {
    if (auto id = special_id(token)) return id;
    const unicode::Utf8Step s = token.empty() ? unicode::Utf8Step{0, 0, false} : unicode::next_utf8(token, 0);
    if (!s.valid || s.len != token.size()) return std::nullopt;
    const auto it = ids_.find(s.cp);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
}

}  // namespace attend
