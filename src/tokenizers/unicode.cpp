// tokenizers/unicode.cpp — table lookups (binary search over generated runs) and UTF-8.
#include "tokenizers/unicode.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <optional>

namespace attend::unicode {
namespace {
#include "tokenizers/unicode_tables.inc"

// Hangul syllables decompose arithmetically (Unicode §3.12): S = L·(V·T) + V·T + T.
constexpr char32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;
constexpr char32_t kLeadBase = 0x1100, kVowelBase = 0x1161, kTrailBase = 0x11A7;
constexpr int kVowelCount = 21, kTrailCount = 28;
}  // namespace

Class classify(char32_t c) {
    if (c > 0x10FFFF) return Class::Unassigned;
    // The last run that starts at or before c: runs are sorted by (first << 4).
    const uint32_t key = (uint32_t(c) << 4) | 0xF;
    const uint32_t* it = std::upper_bound(std::begin(kClassRuns), std::end(kClassRuns), key);
    return Class(*(it - 1) & 0xF);  // kClassRuns[0] starts at U+0000, so it - 1 is valid
}

bool is_white_space(char32_t c) {
    switch (c) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
        case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return c >= 0x2000 && c <= 0x200A;
    }
}

void append_lower(char32_t c, std::u32string& out) {
    if (c == 0x130) {  // İ: the one code point whose lower case is two (i + combining dot above)
        out += U'i';
        out += char32_t(0x307);
        return;
    }
    if (c < 0x80) {  // the common case, without a search
        out += (c >= U'A' && c <= U'Z') ? c + 32 : c;
        return;
    }
    const auto* run = std::upper_bound(std::begin(kLowerRuns), std::end(kLowerRuns), int32_t(c),
                                       [](int32_t v, const int32_t(&r)[4]) { return v < r[0]; });
    if (run != std::begin(kLowerRuns)) {
        const int32_t(&r)[4] = *(run - 1);
        if (int32_t(c) <= r[1] && (int32_t(c) - r[0]) % r[3] == 0) {
            out += char32_t(int32_t(c) + r[2]);
            return;
        }
    }
    out += c;
}

void append_decomposition(char32_t c, std::u32string& out) {
    if (c >= kHangulFirst && c <= kHangulLast) {
        const int s = int(c - kHangulFirst);
        out += kLeadBase + s / (kVowelCount * kTrailCount);
        out += kVowelBase + (s % (kVowelCount * kTrailCount)) / kTrailCount;
        if (s % kTrailCount) out += kTrailBase + s % kTrailCount;
        return;
    }
    if (c < 0xC0) {  // nothing below À decomposes
        out += c;
        return;
    }
    const uint32_t* it = std::lower_bound(std::begin(kDecompKeys), std::end(kDecompKeys), uint32_t(c));
    if (it == std::end(kDecompKeys) || *it != c) {
        out += c;
        return;
    }
    const size_t i = size_t(it - std::begin(kDecompKeys));
    for (size_t k = kDecompOffsets[i]; k < kDecompOffsets[i + 1]; ++k) out += char32_t(kDecompData[k]);
}

uint8_t combining_class(char32_t c) {
    if (c < 0x300 || c > 0x10FFFF) return 0;
    const uint32_t key = (uint32_t(c) << 8) | 0xFF;
    const uint32_t* it = std::upper_bound(std::begin(kCombiningRuns), std::end(kCombiningRuns), key);
    return uint8_t(*(it - 1) & 0xFF);
}

namespace {

// Full decomposition of one code point, compatibility mappings included when asked.
void decompose(char32_t c, bool compat, std::u32string& out) {
    if (compat && c >= 0xA0) {
        const uint32_t* it = std::lower_bound(std::begin(kCompatKeys), std::end(kCompatKeys), uint32_t(c));
        if (it != std::end(kCompatKeys) && *it == c) {
            const size_t i = size_t(it - std::begin(kCompatKeys));
            for (size_t k = kCompatOffsets[i]; k < kCompatOffsets[i + 1]; ++k) out += char32_t(kCompatData[k]);
            return;
        }
    }
    append_decomposition(c, out);
}

std::optional<char32_t> compose_pair(char32_t a, char32_t b) {
    // Hangul: L + V → LV, LV + T → LVT (Unicode §3.12).
    if (a >= kLeadBase && a < kLeadBase + 19 && b >= kVowelBase && b < kVowelBase + kVowelCount)
        return kHangulFirst + ((a - kLeadBase) * kVowelCount + (b - kVowelBase)) * kTrailCount;
    if (a >= kHangulFirst && a <= kHangulLast && (a - kHangulFirst) % kTrailCount == 0 && b > kTrailBase &&
        b < kTrailBase + kTrailCount)
        return a + (b - kTrailBase);
    const uint64_t key = (uint64_t(a) << 21) | b;
    const auto* it = std::lower_bound(std::begin(kCompose), std::end(kCompose), key,
                                      [](const uint64_t(&e)[2], uint64_t k) { return e[0] < k; });
    if (it == std::end(kCompose) || (*it)[0] != key) return std::nullopt;
    return char32_t((*it)[1]);
}

void normalize_run(std::u32string_view in, Form form, std::string& out) {
    std::u32string d;
    d.reserve(in.size());
    const bool compat = form == Form::NFKC || form == Form::NFKD;
    for (char32_t c : in) decompose(c, compat, d);
    // Canonical ordering: a stable sort of each run of marks (nonzero class) by class.
    for (size_t i = 0; i < d.size();) {
        if (combining_class(d[i]) == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < d.size() && combining_class(d[j]) != 0) ++j;
        std::stable_sort(d.begin() + i, d.begin() + j,
                         [](char32_t x, char32_t y) { return combining_class(x) < combining_class(y); });
        i = j;
    }
    if (form == Form::NFC || form == Form::NFKC) {
        // Canonical composition: each character joins the last starter unless a mark of the same
        // or a higher class (or a starter) stands between them.
        std::u32string c;
        c.reserve(d.size());
        size_t starter = std::u32string::npos;
        int last_class = 0;  // of the last character kept after the starter
        for (char32_t ch : d) {
            const int cc = combining_class(ch);
            const bool adjacent = starter != std::u32string::npos && c.size() == starter + 1;
            if (starter != std::u32string::npos && (adjacent || (last_class != 0 && last_class < cc)))
                if (const auto composed = compose_pair(c[starter], ch)) {
                    c[starter] = *composed;
                    continue;
                }
            if (cc == 0) starter = c.size();
            last_class = cc;
            c += ch;
        }
        d.swap(c);
    }
    for (char32_t ch : d) append_utf8(out, ch);
}

}  // namespace

std::string normalize(std::string_view text, Form form) {
    std::string out;
    out.reserve(text.size());
    std::u32string run;
    for (size_t i = 0; i < text.size();) {
        const Utf8Step s = next_utf8(text, i);
        if (s.valid) {
            run += s.cp;
        } else {
            normalize_run(run, form, out);
            run.clear();
            out += text[i];
        }
        i += s.len;
    }
    normalize_run(run, form, out);
    return out;
}

const char* data_version() { return kUnicodeVersion; }

// ---- UTF-8 -------------------------------------------------------------------------------

Utf8Lead utf8_lead(uint8_t b) {
    if (b < 0x80) return {1, 0, 0};
    if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

Utf8Step next_utf8(std::string_view text, size_t i) {
    const Utf8Step bad{0xFFFD, 1, false};
    const uint8_t b0 = uint8_t(text[i]);
    const Utf8Lead lead = utf8_lead(b0);
    if (lead.length == 0 || i + lead.length > text.size()) return bad;
    if (lead.length == 1) return {b0, 1, true};
    char32_t cp = b0 & (0x7F >> lead.length);  // the payload bits of the first byte
    for (uint32_t k = 1; k < lead.length; ++k) {
        const uint8_t b = uint8_t(text[i + k]);
        if (k == 1 ? (b < lead.second_lo || b > lead.second_hi) : (b < 0x80 || b > 0xBF)) return bad;
        cp = (cp << 6) | (b & 0x3F);
    }
    return {cp, lead.length, true};
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += char(c);
    } else if (c < 0x800) {
        out += char(0xC0 | (c >> 6));
        out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += char(0xE0 | (c >> 12));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    } else {
        out += char(0xF0 | (c >> 18));
        out += char(0x80 | ((c >> 12) & 0x3F));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    }
}

std::string to_utf8(char32_t c) {
    std::string s;
    append_utf8(s, c);
    return s;
}

std::string code_point_name(char32_t c) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", unsigned(c));
    return buf;
}

}  // namespace attend::unicode
