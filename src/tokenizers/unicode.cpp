// tokenizers/unicode.cpp — table lookups (binary search over generated runs) and UTF-8.
#include "tokenizers/unicode.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>

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

const char* data_version() { return kUnicodeVersion; }

// ---- UTF-8 -------------------------------------------------------------------------------

Utf8Step next_utf8(std::string_view text, size_t i) {
    const auto byte = [&](size_t k) { return uint8_t(text[k]); };
    const uint8_t b0 = byte(i);
    const Utf8Step bad{0xFFFD, 1, false};
    if (b0 < 0x80) return {b0, 1, true};
    // Lead byte → length and the allowed range of the second byte (which excludes overlong
    // forms, surrogates and values past U+10FFFF; RFC 3629 table).
    uint32_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    char32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) { len = 2; cp = b0 & 0x1F; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3; cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4; cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return bad;
    }
    if (i + len > text.size()) return bad;
    for (uint32_t k = 1; k < len; ++k) {
        const uint8_t b = byte(i + k);
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return bad;
        cp = (cp << 6) | (b & 0x3F);
    }
    return {cp, len, true};
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

size_t complete_utf8_prefix(std::string_view text) {
    // Only the last three bytes can belong to an unfinished sequence (sequences are ≤ 4 bytes).
    const size_t n = text.size();
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        const uint8_t b = uint8_t(text[n - back]);
        if ((b & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead
        if (b < 0xC2 || b > 0xF4) return n;  // not a byte that can start a sequence: nothing to wait for
        const uint32_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        if (need <= back) return n;  // the last sequence is complete
        if (back >= 2) {             // is the second byte allowed after this lead? (as in next_utf8)
            const uint8_t b1 = uint8_t(text[n - back + 1]);
            const uint8_t lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
            const uint8_t hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
            if (b1 < lo || b1 > hi) return n;
        }
        return n - back;  // unfinished but still well-formed: hold it back
    }
    return n;
}

std::string code_point_name(char32_t c) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", unsigned(c));
    return buf;
}

}  // namespace attend::unicode
