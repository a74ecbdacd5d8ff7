// tokenizers/unicode.hpp — the little Unicode the tokenizers need: UTF-8 in and out, character
// classes (\p{L}, \p{N}, \p{P}, Mn, White_Space, ...), lower case and canonical decomposition.
//
// The data comes from Python's unicodedata (Unicode 14.0), generated into unicode_tables.inc by
// unicode_tables.py, so the library depends on no ICU. Internal to src/tokenizers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attend::unicode {

// General categories folded to what the tokenizers ask about.
enum class Class : uint8_t {
    Unassigned = 0,  // Cn, Co (private use), Cs (surrogates)
    Control,         // Cc
    Format,          // Cf (zero-width joiner, BOM, ...)
    Letter,          // L*
    NonspacingMark,  // Mn: combining accents, what strip-accents drops
    OtherMark,       // Mc, Me
    Number,          // N*
    Punctuation,     // P*
    Symbol,          // S*
    Separator,       // Z*
};

Class classify(char32_t c);
inline bool is_letter(char32_t c) { return classify(c) == Class::Letter; }
inline bool is_number(char32_t c) { return classify(c) == Class::Number; }
inline bool is_punctuation(char32_t c) { return classify(c) == Class::Punctuation; }
inline bool is_nonspacing_mark(char32_t c) { return classify(c) == Class::NonspacingMark; }
// Unicode's White_Space property (what \s means to Oniguruma and Rust's char::is_whitespace).
bool is_white_space(char32_t c);

// Appends the lower case of c (one code point, except U+0130 İ → "i" + U+0307).
void append_lower(char32_t c, std::u32string& out);
// Appends the canonical decomposition of c (NFD of the single code point; Hangul included).
// Canonical reordering of runs of combining marks is not done: the only user strips the
// nonspacing marks right after, and every mark that reordering could move is one of those
// except 25 spacing marks (Mc with a nonzero combining class) whose relative order stays as written.
void append_decomposition(char32_t c, std::u32string& out);

// The Unicode normalization forms (UAX #15): full decomposition (canonical, or compatibility
// for the K forms), canonical reordering of combining marks, then for NFC/NFKC canonical
// composition. Text that is not UTF-8 keeps its bad bytes as they are; the valid runs between
// them are normalized (tokenizer.json's NFC/NFKC/NFD/NFKD normalizers).
enum class Form { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view text, Form form);
uint8_t combining_class(char32_t c);

const char* data_version();  // "14.0.0"

// ---- UTF-8 -------------------------------------------------------------------------------
// Well-formed UTF-8 by its first byte (Unicode §3.9, table 3-7; RFC 3629): the length of the
// sequence and the range its second byte must fall in, which rules out overlong forms (E0, F0),
// surrogates D800..DFFF (ED) and values past U+10FFFF (F4). length 0: not a first byte
// (80..C1, F5..FF). Later bytes are always 80..BF.
struct Utf8Lead {
    uint32_t length;
    uint8_t second_lo, second_hi;
};
Utf8Lead utf8_lead(uint8_t first_byte);

// One step of decoding: the code point at text[i] and its length in bytes. A malformed or
// truncated sequence, an overlong form, a surrogate or a value past U+10FFFF decodes as one
// byte with valid = false and cp = U+FFFD, so every byte of the input belongs to exactly one step.
struct Utf8Step {
    char32_t cp;
    uint32_t len;
    bool valid;
};
Utf8Step next_utf8(std::string_view text, size_t i);
void append_utf8(std::string& out, char32_t c);
std::string to_utf8(char32_t c);
// "U+00E9" — for messages.
std::string code_point_name(char32_t c);

}  // namespace attend::unicode
