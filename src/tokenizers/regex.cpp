// tokenizers/regex.cpp — PCRE2 behind tokenizers::Regex (see regex.hpp).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizers/regex.hpp"

#include <pcre2.h>

#include "attend/error.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {

Regex::Regex(const std::string& pattern, const std::string& origin, const std::string& what) : pattern_(pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (!code_) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        std::string shown = pattern.size() > 80 ? pattern.substr(0, 80) + "..." : pattern;
        throw Error(origin + ": " + what + " pattern \"" + shown + "\" does not compile: " +
                    reinterpret_cast<const char*>(message) + " (at byte " + std::to_string(offset) + ")");
    }
    // JIT is an optimisation: where it is unavailable, the interpreter gives the same matches.
    pcre2_jit_compile(static_cast<pcre2_code*>(code_), PCRE2_JIT_COMPLETE);
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
    std::vector<std::pair<size_t, size_t>> out;
    pcre2_code* code = static_cast<pcre2_code*>(code_);
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    if (!md) throw Error("out of memory matching a tokenizer pattern");
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t at = 0;
    while (at <= text.size()) {
        const int rc = pcre2_match(code, subject, text.size(), at, 0, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            pcre2_match_data_free(md);
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof message);
            throw Error(std::string("tokenizer pattern \"") + pattern_ + "\" failed: " + reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t b = ov[0], e = ov[1];
        if (e > b) {
            out.emplace_back(b, e);
            at = e;
        } else {  // empty: skip one character (or one bad byte)
            if (b >= text.size()) break;
            at = b + unicode::next_utf8(text, b).len;
        }
    }
    pcre2_match_data_free(md);
    return out;
}

std::string regex_quote(std::string_view literal) {
    std::string out;
    for (char c : literal) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

}  // namespace attend::tokenizers
