// tokenizers/char_level.cpp — one token per Unicode character, saved as a small JSON file:
//   {"type": "char", "chars": ["\n", " ", "!", ...]}   (id = position in "chars")
#include "attend/tokenizers/char_level.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "attend/error.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/unicode.hpp"

namespace attend {

using tokenizers::bad_file;
using tokenizers::quote_token;

CharTokenizer CharTokenizer::from_text(std::string_view text) {
    std::set<char32_t> seen;
    for (size_t i = 0; i < text.size();) {
        const unicode::Utf8Step s = unicode::next_utf8(text, i);
        ATTEND_CHECK(s.valid, "byte ", i, " of the text is not UTF-8; a character vocabulary needs valid UTF-8");
        seen.insert(s.cp);
        i += s.len;
    }
    std::vector<std::string> chars;
    for (char32_t c : seen) chars.push_back(unicode::to_utf8(c));  // sorted by code point, as nanoGPT's sorted(set(text))
    return from_chars(chars);
}

CharTokenizer CharTokenizer::from_chars(const std::vector<std::string>& chars, const std::string& origin) {
    CharTokenizer t;
    t.source_ = origin;
    const std::string where = origin.empty() ? "character vocabulary" : origin;
    for (const std::string& ch : chars) {
        const unicode::Utf8Step s = ch.empty() ? unicode::Utf8Step{0, 0, false} : unicode::next_utf8(ch, 0);
        if (!s.valid || s.len != ch.size())
            bad_file(where, "entry " + std::to_string(t.chars_.size()) + " " + quote_token(ch) + " is not exactly one UTF-8 character");
        if (!t.ids_.emplace(s.cp, int64_t(t.chars_.size())).second)
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
    std::vector<std::string> chars;
    for (const auto& c : j["chars"]) {
        if (!c.is_string()) bad_file(origin, "\"chars\"[" + std::to_string(chars.size()) + "] is not a string");
        chars.push_back(c.get<std::string>());
    }
    return from_chars(chars, origin);
}

void CharTokenizer::save(const std::string& path) const {
    const nlohmann::json j = {{"type", "char"}, {"chars", chars_}};
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) bad_file(path, "cannot write file");
        out << j.dump(1) << "\n";
        if (!out) bad_file(path, "write error");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) bad_file(path, "cannot rename the temporary file into place");
}

std::vector<int64_t> CharTokenizer::encode(std::string_view text, bool) const {
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

std::string CharTokenizer::decode(const std::vector<int64_t>& ids, bool) const {
    std::string out;
    for (int64_t id : ids) out += token_text(id);
    return out;
}

std::string CharTokenizer::token_text(int64_t id) const {
    ATTEND_CHECK(id >= 0 && id < int64_t(chars_.size()), "token id ", id, " is outside the character vocabulary (0 .. ",
                 chars_.size() - 1, ")");
    return chars_[size_t(id)];
}

std::optional<int64_t> CharTokenizer::token_id(std::string_view token) const {
    const unicode::Utf8Step s = token.empty() ? unicode::Utf8Step{0, 0, false} : unicode::next_utf8(token, 0);
    if (!s.valid || s.len != token.size()) return std::nullopt;
    const auto it = ids_.find(s.cp);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
}

}  // namespace attend
