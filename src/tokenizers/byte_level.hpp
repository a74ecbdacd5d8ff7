// tokenizers/byte_level.hpp — GPT-2's byte-level pieces: the byte ↔ unicode map its vocabulary
// files are written in, and its pre-tokenisation pattern. Internal to src/tokenizers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attend::tokenizers {

// OpenAI's bytes_to_unicode(): the printable bytes '!'..'~', '¡'..'¬', '®'..'ÿ' stand for
// themselves; the other 68 (controls, space, DEL, NBSP, soft hyphen) map to U+0100 + k in byte
// order, so that every vocabulary entry is printable text (space → 'Ġ' U+0120, '\n' → 'Ċ').
char32_t byte_to_unicode(uint8_t byte);
std::optional<uint8_t> unicode_to_byte(char32_t c);
// "Ġworld" → " world"; nothing if a character is outside the map (or the text isn't UTF-8).
std::optional<std::string> bytes_from_vocab_text(std::string_view token);
// " world" → "Ġworld".
std::string vocab_text_from_bytes(std::string_view bytes);

// GPT-2's pre-tokeniser, the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// matched by hand over code points: the pieces are consecutive byte ranges of text covering
// all of it. Bytes that are not UTF-8 count as "other" (neither letter, number nor space).
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

}  // namespace attend::tokenizers
