// tokenizers/utf8_stream.hpp — turn a stream of token bytes into whole UTF-8 characters.
//
// Byte-level tokenizers split characters: GPT-2's byte-level BPE may give an emoji's four
// bytes as two tokens, and llama's byte fallback gives each byte as its own <0xXX> token.
// Printing each token's bytes as they come would put half a character on the terminal (and
// a replacement glyph). The decoder buffers the bytes of an incomplete code point until its
// last byte arrives and only ever emits whole characters:
//
//   push("\xF0\x9F")  -> ""          (a 4-byte sequence, 2 bytes so far)
//   push("\x98\x80 ") -> "😀 "
//
// Bytes that can never become a character (a stray continuation byte, a lead byte followed
// by a non-continuation, an overlong form, a surrogate, > U+10FFFF) are emitted as U+FFFD,
// one per maximal invalid subpart, as Python's bytes.decode(errors="replace") does — so the
// streamed text equals decoding all the bytes at once. finish() flushes an incomplete tail
// the same way.
//
// DecodeStream (tokenizer.hpp) runs every decoded piece through one of these.
#pragma once
#include <string>

namespace attend {

class Utf8StreamDecoder {
public:
    // Append bytes; return the complete characters now available (possibly "").
    std::string push(const std::string& bytes);
    // End of stream: whatever is buffered, as U+FFFD.
    std::string finish();
    // Bytes held back, waiting for the rest of their character.
    const std::string& pending() const { return pending_; }

private:
    std::string pending_;
};

// Decode a whole byte string the same way (invalid subparts -> U+FFFD).
std::string utf8_sanitize(const std::string& bytes);

}  // namespace attend
