// chat/jinja_lexer.cpp — Jinja's lexer (jinja2/lexer.py) restated: the same whitespace
// control, string escapes (Python's unicode-escape), number forms and bracket balancing that
// decides whether `}}` ends a tag or closes a dict.
#include "chat/jinja_lexer.hpp"

#include <cstring>

#include "chat/jinja_error.hpp"
#include "chat/jinja_value.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::jinja {
namespace {

std::string normalise(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
    return out;
}

int count_newlines(std::string_view s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

// Python's str.rstrip() on UTF-8.
std::string rstrip(std::string_view s) { return py_strip(s, false, true); }

// The end of the run of Python whitespace starting at i.
size_t skip_space(std::string_view s, size_t i) {
    while (i < s.size()) {
        const auto step = unicode::next_utf8(s, i);
        if (!step.valid || !py_isspace(step.cp)) break;
        i += step.len;
    }
    return i;
}

bool all_space(std::string_view s) { return !s.empty() && skip_space(s, 0) == s.size(); }

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Python's "unicode-escape" decoding of a string literal's body.
std::string unescape(std::string_view body, int line) {
    std::string out;
    for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] != '\\' || i + 1 == body.size()) {
            out += body[i];
            continue;
        }
        const char c = body[++i];
        const auto hex = [&](size_t digits) {
            uint32_t v = 0;
            for (size_t k = 1; k <= digits; ++k) {
                if (i + k >= body.size()) fail("truncated escape in a string", line);
                const char h = body[i + k];
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (d < 0) fail("truncated escape in a string", line);
                v = v * 16 + uint32_t(d);
            }
            i += digits;
            if (v > 0x10FFFF) fail("illegal Unicode character in a string", line);
            unicode::append_utf8(out, char32_t(v));
        };
        switch (c) {
            case '\n': break;  // line continuation
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'v': out += '\v'; break;
            case 'x': hex(2); break;
            case 'u': hex(4); break;
            case 'U': hex(8); break;
            default:
                if (c >= '0' && c <= '7') {
                    uint32_t v = uint32_t(c - '0');
                    for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
                        v = v * 8 + uint32_t(body[++i] - '0');
                    unicode::append_utf8(out, char32_t(v));
                } else {
                    out += '\\';  // unknown escapes stay as written
                    out += c;
                }
        }
    }
    return out;
}

class Lexer {
public:
    explicit Lexer(std::string source) : s_(std::move(source)) {}

    std::vector<Token> run() {
        while (pos_ < s_.size()) {
            // The next tag opener; data up to it.
            size_t open = pos_;
            char kind = 0;
            for (;; ++open) {
                open = s_.find('{', open);
                if (open == std::string::npos || open + 1 >= s_.size()) {
                    open = std::string::npos;
                    break;
                }
                const char k = s_[open + 1];
                if (k == '{' || k == '%' || k == '#') {
                    kind = k;
                    break;
                }
            }
            if (open == std::string::npos) {
                emit_data(s_.substr(pos_));
                break;
            }
            const char sign = open + 2 < s_.size() && (s_[open + 2] == '-' || s_[open + 2] == '+') ? s_[open + 2] : 0;
            std::string text = s_.substr(pos_, open - pos_);
            const int text_lines = count_newlines(text);
            if (sign == '-') {
                text = rstrip(text);
            } else if (sign != '+' && kind != '{') {  // lstrip_blocks: block tags and comments
                const size_t l_pos = text.rfind('\n') + 1;  // npos + 1 == 0
                if ((l_pos > 0 || line_starting_) && all_space(std::string_view(text).substr(l_pos)))
                    text.resize(l_pos);
            }
            emit_data(text);
            line_ += text_lines;
            pos_ = open + 2 + (sign ? 1 : 0);
            if (kind == '#') lex_comment();
            else if (kind == '%' && try_raw()) continue;
            else lex_tag(kind == '%');
        }
        tokens_.push_back({Token::Kind::End, "", line_});
        return std::move(tokens_);
    }

private:
    void emit_data(std::string text) {
        if (!text.empty()) tokens_.push_back({Token::Kind::Data, std::move(text), line_});
    }

    // After a tag's end marker: `-` strips all whitespace, `+` keeps it, otherwise trim_blocks
    // removes one newline after a block tag or comment (never after `}}`). line_starting_ remembers whether that left us at a line start.
    void finish_tag(char sign, bool block = true) {
        const size_t start = pos_;
        if (sign == '-') pos_ = skip_space(s_, pos_);
        else if (sign == 0 && block && pos_ < s_.size() && s_[pos_] == '\n') ++pos_;  // trim_blocks: not after }}
        line_ += count_newlines(std::string_view(s_).substr(start, pos_ - start));
        line_starting_ = pos_ > 0 && s_[pos_ - 1] == '\n' && pos_ > start;
    }

    void lex_comment() {
        const size_t close = s_.find("#}", pos_);
        if (close == std::string::npos) fail("Missing end of comment tag", line_);
        char sign = 0;
        if (close > pos_ && (s_[close - 1] == '-' || s_[close - 1] == '+')) sign = s_[close - 1];
        line_ += count_newlines(std::string_view(s_).substr(pos_, close - pos_));
        pos_ = close + 2;
        line_starting_ = false;
        finish_tag(sign);
    }

    // `{% raw %}...{% endraw %}`: the text between, verbatim.
    bool try_raw() {
        size_t p = skip_space(s_, pos_);
        if (s_.compare(p, 3, "raw") != 0 || (p + 3 < s_.size() && is_name_char(s_[p + 3]))) return false;
        p = skip_space(s_, p + 3);
        char sign = 0;
        if (s_.compare(p, 3, "-%}") == 0) sign = '-', p += 3;
        else if (s_.compare(p, 2, "%}") == 0) p += 2;
        else return false;
        line_ += count_newlines(std::string_view(s_).substr(pos_, p - pos_));
        pos_ = p;
        if (sign == '-') {  // no trim_blocks after raw's opening tag (as lexer.py)
            const size_t start = pos_;
            pos_ = skip_space(s_, pos_);
            line_ += count_newlines(std::string_view(s_).substr(start, pos_ - start));
        }
        // Find {%[-+]? endraw ... %}
        for (size_t q = s_.find("{%", pos_);; q = s_.find("{%", q + 1)) {
            if (q == std::string::npos) fail("Missing end of raw directive", line_);
            size_t r = q + 2;
            const char open_sign = r < s_.size() && (s_[r] == '-' || s_[r] == '+') ? s_[r] : 0;
            if (open_sign) ++r;
            r = skip_space(s_, r);
            if (s_.compare(r, 6, "endraw") != 0) continue;
            r = skip_space(s_, r + 6);
            char close_sign = 0;
            if (s_.compare(r, 3, "-%}") == 0 || s_.compare(r, 3, "+%}") == 0) close_sign = s_[r], r += 3;
            else if (s_.compare(r, 2, "%}") == 0) r += 2;
            else continue;
            std::string text = s_.substr(pos_, q - pos_);
            const int text_lines = count_newlines(text);
            if (open_sign == '-') {
                text = rstrip(text);
            } else if (open_sign != '+') {
                const size_t l_pos = text.rfind('\n') + 1;
                if ((l_pos > 0 || line_starting_) && all_space(std::string_view(text).substr(l_pos))) text.resize(l_pos);
            }
            emit_data(text);
            line_ += text_lines + count_newlines(std::string_view(s_).substr(q, r - q));
            pos_ = r;
            finish_tag(close_sign);
            return true;
        }
    }

    void lex_tag(bool block) {
        tokens_.push_back({block ? Token::Kind::BlockBegin : Token::Kind::VariableBegin, "", line_});
        std::string balance;
        for (;;) {
            // whitespace
            const size_t ws = skip_space(s_, pos_);
            line_ += count_newlines(std::string_view(s_).substr(pos_, ws - pos_));
            pos_ = ws;
            if (pos_ >= s_.size()) fail(std::string("unexpected end of template, expected '") + (block ? "%}" : "}}") + "'", line_);
            if (balance.empty()) {
                const char* end = block ? "%}" : "}}";
                if (s_.compare(pos_, 2, end) == 0) {
                    tokens_.push_back({block ? Token::Kind::BlockEnd : Token::Kind::VariableEnd, "", line_});
                    pos_ += 2;
                    finish_tag(0, block);
                    return;
                }
                if ((s_[pos_] == '-' || (block && s_[pos_] == '+')) && s_.compare(pos_ + 1, 2, end) == 0) {
                    tokens_.push_back({block ? Token::Kind::BlockEnd : Token::Kind::VariableEnd, "", line_});
                    const char sign = s_[pos_];
                    pos_ += 3;
                    finish_tag(sign, block);
                    return;
                }
            }
            const char c = s_[pos_];
            if (is_digit(c)) {
                lex_number();
            } else if (is_name_start(c)) {
                size_t e = pos_;
                while (e < s_.size() && is_name_char(s_[e])) ++e;
                tokens_.push_back({Token::Kind::Name, s_.substr(pos_, e - pos_), line_});
                pos_ = e;
            } else if (c == '\'' || c == '"') {
                size_t e = pos_ + 1;
                while (e < s_.size() && s_[e] != c) e += s_[e] == '\\' ? 2 : 1;
                if (e >= s_.size()) fail(std::string("unexpected char '") + c + "' (an unterminated string)", line_);
                const int start_line = line_;
                std::string body = s_.substr(pos_ + 1, e - pos_ - 1);
                line_ += count_newlines(body);
                tokens_.push_back({Token::Kind::String, unescape(body, start_line), start_line});
                pos_ = e + 1;
            } else {
                static const char* const two[] = {"//", "**", "==", "!=", ">=", "<="};
                std::string op;
                for (const char* t : two)
                    if (s_.compare(pos_, 2, t) == 0) op = t;
                if (op.empty()) {
                    if (!std::strchr("+-/*%~[](){}><=.:|,;", c) || c == 0) {
                        const auto step = unicode::next_utf8(s_, pos_);
                        fail("unexpected char '" + s_.substr(pos_, step.len) + "'", line_);
                    }
                    op = std::string(1, c);
                }
                if (op == "(" || op == "[" || op == "{") {
                    balance += op == "(" ? ')' : op == "[" ? ']' : '}';
                } else if (op == ")" || op == "]" || op == "}") {
                    if (balance.empty()) fail("unexpected '" + op + "'", line_);
                    if (balance.back() != op[0])
                        fail("unexpected '" + op + "', expected '" + std::string(1, balance.back()) + "'", line_);
                    balance.pop_back();
                }
                tokens_.push_back({Token::Kind::Operator, op, line_});
                pos_ += op.size();
            }
        }
    }

    void lex_number() {
        // Python/Jinja forms: 0x.. 0o.. 0b.., decimals with '_', floats with '.' or exponent.
        size_t e = pos_;
        const auto digits = [&](size_t& p) {
            const size_t start = p;
            while (p < s_.size() && (is_digit(s_[p]) || (s_[p] == '_' && p > start && p + 1 < s_.size() && is_digit(s_[p + 1])))) ++p;
            return p > start;
        };
        if (s_[pos_] == '0' && pos_ + 1 < s_.size() && std::strchr("xXoObB", s_[pos_ + 1]) && s_[pos_ + 1] != 0) {
            const char base_char = char(s_[pos_ + 1] | 0x20);
            const int base = base_char == 'x' ? 16 : base_char == 'o' ? 8 : 2;
            e = pos_ + 2;
            int64_t v = 0;
            bool any = false;
            for (; e < s_.size(); ++e) {
                const char h = s_[e];
                if (h == '_') continue;
                int d = h >= '0' && h <= '9' ? h - '0' : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : 99;
                if (d >= base) break;
                if (v > (INT64_MAX - d) / base) fail("integer literal too large", line_);
                v = v * base + d;
                any = true;
            }
            if (!any) fail("invalid integer literal", line_);
            Token t{Token::Kind::Integer, s_.substr(pos_, e - pos_), line_};
            t.integer = v;
            tokens_.push_back(t);
            pos_ = e;
            return;
        }
        digits(e);
        bool is_float = false;
        if (e + 1 < s_.size() && s_[e] == '.' && is_digit(s_[e + 1])) {
            ++e;
            digits(e);
            is_float = true;
        }
        if (e < s_.size() && (s_[e] == 'e' || s_[e] == 'E')) {
            size_t p = e + 1;
            if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) ++p;
            if (p < s_.size() && is_digit(s_[p])) {
                digits(p);
                e = p;
                is_float = true;
            }
        }
        std::string text;
        for (size_t i = pos_; i < e; ++i)
            if (s_[i] != '_') text += s_[i];
        Token t{is_float ? Token::Kind::Float : Token::Kind::Integer, s_.substr(pos_, e - pos_), line_};
        if (is_float) {
            t.number = std::strtod(text.c_str(), nullptr);
        } else {
            if (text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos)
                fail("leading zeros in decimal integer literals are not permitted", line_);
            if (text.size() > 19 || (text.size() == 19 && text > "9223372036854775807")) fail("integer literal too large", line_);
            t.integer = std::stoll(text);
        }
        tokens_.push_back(t);
        pos_ = e;
    }

    std::string s_;
    size_t pos_ = 0;
    int line_ = 1;
    bool line_starting_ = true;
    std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(normalise(source)).run(); }

}  // namespace attend::jinja
