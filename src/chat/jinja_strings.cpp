// chat/jinja_strings.cpp — Python's str methods restated on UTF-8 (code points, Python's
// whitespace). Case mapping: lower() uses the tokenizers' Unicode table; upper() covers
// ASCII, Latin-1, Greek and Cyrillic, which is what chat templates and conversations use.
#include "chat/jinja_strings.hpp"

#include <algorithm>

#include "chat/jinja_error.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::jinja {

const Value* find_arg(const CallArgs& args, size_t position, const char* name) {
    if (position < args.positional.size()) return &args.positional[position];
    for (const auto& [k, v] : args.keyword)
        if (k == name) return &v;
    return nullptr;
}

void check_args(const CallArgs& args, const char* function, size_t max_positional, std::vector<const char*> names) {
    if (args.positional.size() > max_positional)
        fail(std::string(function) + "() takes at most " + std::to_string(max_positional) + " argument(s) (" +
             std::to_string(args.positional.size()) + " given)");
    for (const auto& [k, v] : args.keyword) {
        bool known = false;
        for (const char* n : names) known = known || k == n;
        if (!known) fail(std::string(function) + "() got an unexpected keyword argument '" + k + "'");
    }
}

int64_t int_arg(const Value* v, int64_t fallback, const char* what) {
    if (!v || v->is_none()) return fallback;
    if (v->type == Value::Type::Int) return v->integer;
    if (v->type == Value::Type::Bool) return v->boolean;
    fail(std::string(what) + ": expected an integer, got " + type_name(*v));
}

std::string str_arg(const Value* v, const std::string& fallback, const char* what) {
    if (!v || v->is_none()) return fallback;
    if (v->is_string()) return v->text;
    fail(std::string(what) + ": expected a string, got " + type_name(*v));
}

namespace {
char32_t upper_of(char32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c < 0x80) return c;
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
    if (c == 0xFF) return 0x178;
    if (c == 0xB5) return 0x39C;
    if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
        // Latin Extended-A: pairs (even upper, odd lower) except 0x139..0x148 and 0x179..0x17E (odd upper)
        const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
        if (odd_upper ? (c % 2 == 0) : (c % 2 == 1)) return c - 1;
        return c;
    }
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 0x20;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x3AC && c <= 0x3AF) return c == 0x3AC ? 0x386 : c - 0x25;
    if (c >= 0x430 && c <= 0x44F) return c - 0x20;
    if (c >= 0x450 && c <= 0x45F) return c - 0x50;
    return c;
}
void append_upper(char32_t c, std::u32string& out) {
    if (c == 0xDF) {
        out += U"SS";
        return;
    }
    out += upper_of(c);
}
void append_lower_one(char32_t c, std::u32string& out) {
    if (c >= 0xDC80 && c <= 0xDCFF) out += c;  // an undecodable byte stays
    else unicode::append_lower(c, out);
}
bool is_cased_letter(char32_t c) { return unicode::is_letter(c); }
}  // namespace

std::string py_upper(std::string_view s) {
    std::u32string out;
    for (char32_t c : decode(s)) append_upper(c, out);
    return encode(out);
}

std::string py_lower(std::string_view s) {
    std::u32string out;
    for (char32_t c : decode(s)) append_lower_one(c, out);
    return encode(out);
}

std::string py_capitalize(std::string_view s) {
    const std::u32string u = decode(s);
    std::u32string out;
    for (size_t i = 0; i < u.size(); ++i) {
        if (i == 0) append_upper(u[i], out);
        else append_lower_one(u[i], out);
    }
    return encode(out);
}

std::string py_title_method(std::string_view s) {
    std::u32string out;
    bool previous_cased = false;
    for (char32_t c : decode(s)) {
        if (previous_cased) append_lower_one(c, out);
        else append_upper(c, out);
        previous_cased = is_cased_letter(c);
    }
    return encode(out);
}

std::string jinja_title(std::string_view s) {
    const std::u32string u = decode(s);
    std::u32string out;
    const auto separator = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c); };
    bool word_start = true;
    for (char32_t c : u) {
        if (separator(c)) {
            out += c;
            word_start = true;
        } else if (word_start) {
            append_upper(c, out);
            word_start = false;
        } else {
            append_lower_one(c, out);
        }
    }
    return encode(out);
}

std::vector<std::string> py_split(std::string_view s, const Value* sep, int64_t maxsplit, bool from_right) {
    std::vector<std::string> parts;
    if (!sep || sep->is_none()) {
        // runs of whitespace separate; none at the ends
        const std::u32string u = decode(s);
        std::vector<std::pair<size_t, size_t>> words;
        size_t i = 0;
        while (i < u.size()) {
            while (i < u.size() && py_isspace(u[i])) ++i;
            if (i == u.size()) break;
            size_t j = i;
            while (j < u.size() && !py_isspace(u[j])) ++j;
            words.emplace_back(i, j);
            i = j;
        }
        if (maxsplit >= 0 && int64_t(words.size()) > maxsplit + 1) {
            // merge the words past maxsplit into one piece (keeping its inner whitespace)
            if (!from_right) {
                auto rest = words[size_t(maxsplit)];
                size_t end = u.size();
                while (end > rest.first && py_isspace(u[end - 1])) --end;
                words.resize(size_t(maxsplit));
                words.emplace_back(rest.first, end);
            } else {
                const size_t keep = size_t(maxsplit);
                const auto first_kept = words[words.size() - keep - 1];
                size_t begin = 0;
                while (begin < first_kept.second && py_isspace(u[begin])) ++begin;
                std::vector<std::pair<size_t, size_t>> merged{{begin, first_kept.second}};
                merged.insert(merged.end(), words.end() - long(keep), words.end());
                words = std::move(merged);
            }
        }
        for (auto [b, e] : words) parts.push_back(encode(std::u32string_view(u).substr(b, e - b)));
        return parts;
    }
    if (!sep->is_string()) fail("must be str or None, not " + type_name(*sep));
    const std::string& d = sep->text;
    if (d.empty()) fail("empty separator");
    if (!from_right) {
        size_t start = 0;
        for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
            const size_t at = s.find(d, start);
            if (at == std::string_view::npos) break;
            parts.emplace_back(s.substr(start, at - start));
            start = at + d.size();
        }
        parts.emplace_back(s.substr(start));
        return parts;
    }
    size_t end = s.size();
    std::vector<std::string> reversed;
    for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
        if (end < d.size()) break;
        const size_t at = s.rfind(d, end - d.size());
        if (at == std::string_view::npos) break;
        reversed.emplace_back(s.substr(at + d.size(), end - at - d.size()));
        end = at;
    }
    reversed.emplace_back(s.substr(0, end));
    return {reversed.rbegin(), reversed.rend()};
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view with, int64_t count) {
    std::string out;
    if (old.empty()) {  // inserts `with` before every character and at the end
        const std::u32string u = decode(s);
        int64_t n = 0;
        for (char32_t c : u) {
            if (count < 0 || n < count) {
                out += with;
                ++n;
            }
            out += encode(std::u32string(1, c));
        }
        if (count < 0 || n < count) out += with;
        return out;
    }
    size_t start = 0;
    for (int64_t n = 0; count < 0 || n < count; ++n) {
        const size_t at = s.find(old, start);
        if (at == std::string_view::npos) break;
        out += s.substr(start, at - start);
        out += with;
        start = at + old.size();
    }
    out += s.substr(start);
    return out;
}

std::vector<std::string> py_splitlines(std::string_view s) {
    // Python's line boundaries: \n \r \r\n \v \f \x1c \x1d \x1e \x85 \u2028 \u2029
    const std::u32string u = decode(s);
    std::vector<std::string> lines;
    size_t start = 0, i = 0;
    while (i < u.size()) {
        const char32_t c = u[i];
        const bool brk = c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e ||
                         c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!brk) {
            ++i;
            continue;
        }
        lines.push_back(encode(std::u32string_view(u).substr(start, i - start)));
        i += (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ? 2 : 1;
        start = i;
    }
    if (start < u.size()) lines.push_back(encode(std::u32string_view(u).substr(start)));
    return lines;
}

}  // namespace attend::jinja
