// tokenizers/byte_level.cpp — GPT-2's byte ↔ unicode map and pre-tokenisation pattern.
#include "tokenizers/byte_level.hpp"

#include <array>

#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

bool stands_for_itself(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct ByteMap {
    std::array<char32_t, 256> to_unicode{};
    std::array<int16_t, 324> to_byte{};  // code points 0 .. 0x143 (the largest is U+0100 + 67)
    ByteMap() {
        to_byte.fill(-1);
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            to_unicode[b] = stands_for_itself(b) ? char32_t(b) : char32_t(256 + extra++);
            to_byte[to_unicode[b]] = int16_t(b);
        }
    }
};
const ByteMap& byte_map() {
    static const ByteMap map;
    return map;
}

}  // namespace

char32_t byte_to_unicode(uint8_t byte) { return byte_map().to_unicode[byte]; }

std::optional<uint8_t> unicode_to_byte(char32_t c) {
    if (c >= byte_map().to_byte.size() || byte_map().to_byte[c] < 0) return std::nullopt;
    return uint8_t(byte_map().to_byte[c]);
}

std::optional<std::string> bytes_from_vocab_text(std::string_view token) {
    std::string bytes;
    for (size_t i = 0; i < token.size();) {
        const unicode::Utf8Step s = unicode::next_utf8(token, i);
        const auto b = s.valid ? unicode_to_byte(s.cp) : std::nullopt;
        if (!b) return std::nullopt;
        bytes += char(*b);
        i += s.len;
    }
    return bytes;
}

std::string vocab_text_from_bytes(std::string_view bytes) {
    std::string out;
    for (unsigned char b : bytes) unicode::append_utf8(out, byte_to_unicode(b));
    return out;
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
    // Code points with their byte offsets and the three classes the pattern asks about.
    enum Kind : uint8_t { Other, Letter, Number, Space };
    struct Cp {
        char32_t c;
        uint32_t at;
        Kind kind;
    };
    std::vector<Cp> cps;
    cps.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const unicode::Utf8Step s = unicode::next_utf8(text, i);
        Kind k = Other;
        if (s.valid) {
            if (unicode::is_white_space(s.cp)) k = Space;
            else if (unicode::is_letter(s.cp)) k = Letter;
            else if (unicode::is_number(s.cp)) k = Number;
        }
        cps.push_back({s.valid ? s.cp : 0xFFFD, uint32_t(i), k});
        i += s.len;
    }
    const size_t n = cps.size();
    const auto at = [&](size_t k) { return k < n ? size_t(cps[k].at) : text.size(); };
    const auto is = [&](size_t k, char32_t c) { return k < n && cps[k].c == c; };

    std::vector<std::string_view> pieces;
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        // 's|'t|'re|'ve|'m|'ll|'d  (case-sensitive, as in GPT-2)
        if (is(i, U'\'')) {
            if (is(i + 1, U's') || is(i + 1, U't') || is(i + 1, U'm') || is(i + 1, U'd')) end = i + 2;
            else if ((is(i + 1, U'r') && is(i + 2, U'e')) || (is(i + 1, U'v') && is(i + 2, U'e')) ||
                     (is(i + 1, U'l') && is(i + 2, U'l')))
                end = i + 3;
        }
        if (end == i) {
            // ` ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+`: an optional ASCII space, then a run of one class.
            const size_t first = (is(i, U' ') && i + 1 < n && cps[i + 1].kind != Space) ? i + 1 : i;
            const Kind k = cps[first].kind;
            if (k != Space) {
                end = first;
                while (end < n && cps[end].kind == k) ++end;
            }
        }
        if (end == i) {
            // `\s+(?!\S)|\s+`: a whitespace run; when a non-space follows, leave the run's last
            // character to go with it (as " word"), unless the run is that one character.
            while (end < n && cps[end].kind == Space) ++end;
            if (end < n && end - i >= 2) --end;
        }
        pieces.push_back(text.substr(at(i), at(end) - at(i)));
        i = end;
    }
    return pieces;
}

}  // namespace attend::tokenizers
