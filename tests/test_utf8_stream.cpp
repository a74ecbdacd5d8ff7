// Utf8StreamDecoder: bytes arriving token by token come out as whole characters only, and
// the streamed text equals decoding all the bytes at once. Expected strings for invalid
// input are what Python's bytes.decode("utf-8", errors="replace") gives.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attend/tokenizers/tokenizer.hpp"
#include "attend/tokenizers/utf8_stream.hpp"
#include "support/files.hpp"

using namespace attend;
using attend::testing::shared_data;

namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

bool is_complete_utf8(const std::string& s) { return utf8_sanitize(s) == s; }

}  // namespace

TEST(Utf8Stream, AnEmojiSplitAcrossTokensIsHeldUntilComplete) {
    // 😀 = F0 9F 98 80, as llama's byte-fallback tokens <0xF0><0x9F><0x98><0x80> would give it.
    Utf8StreamDecoder d;
    EXPECT_EQ(d.push("Hi "), "Hi ");
    EXPECT_EQ(d.push("\xF0"), "");
    EXPECT_EQ(d.push("\x9F"), "");
    EXPECT_EQ(d.pending(), "\xF0\x9F");
    EXPECT_EQ(d.push("\x98"), "");
    EXPECT_EQ(d.push("\x80"), "\xF0\x9F\x98\x80");
    EXPECT_EQ(d.pending(), "");
    // GPT-2 byte-level BPE: two tokens, one ending inside the character, one finishing it
    // and starting the next word.
    EXPECT_EQ(d.push(" \xF0\x9F"), " ");
    EXPECT_EQ(d.push("\x98\x80 ok"), "\xF0\x9F\x98\x80 ok");
    EXPECT_EQ(d.finish(), "");
}

TEST(Utf8Stream, EverySplitOfMixedTextGivesTheSameText) {
    // ASCII, 2-byte (é), 3-byte (世, €), 4-byte (😀, 🤗) characters.
    const std::string text = "caf\xC3\xA9 \xE4\xB8\x96\xE2\x82\xAC \xF0\x9F\x98\x80\xF0\x9F\xA4\x97!";
    for (size_t a = 0; a <= text.size(); ++a)
        for (size_t b = a; b <= text.size(); ++b) {
            Utf8StreamDecoder d;
            const std::string p1 = d.push(text.substr(0, a)), p2 = d.push(text.substr(a, b - a)),
                              p3 = d.push(text.substr(b));
            EXPECT_TRUE(is_complete_utf8(p1) && is_complete_utf8(p2) && is_complete_utf8(p3))
                << "a piece ended inside a character (split at " << a << ", " << b << ")";
            EXPECT_EQ(p1 + p2 + p3 + d.finish(), text) << "split at " << a << ", " << b;
        }
    // Byte by byte, as byte-fallback tokens arrive.
    Utf8StreamDecoder d;
    std::string out;
    for (char c : text) out += d.push(std::string(1, c));
    EXPECT_EQ(out, text);
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementCharactersAsPythonDecodes) {
    struct Case {
        std::string in, out;
    };
    const std::vector<Case> cases = {
        {"\x80", kFFFD},                                          // a stray continuation byte
        {"\xE0\x80", kFFFD + kFFFD},                              // overlong lead, then a stray byte
        {"\xF0\x9F\x98", kFFFD},                                  // cut short: one replacement
        {"a\xED\xA0\x80" "b", "a" + kFFFD + kFFFD + kFFFD + "b"}, // a surrogate
        {"\xF4\x90\x80\x80", kFFFD + kFFFD + kFFFD + kFFFD},      // past U+10FFFF
        {"\xC0\xAF", kFFFD + kFFFD},                              // overlong '/'
        {"\xE2\x82", kFFFD},
        {"\xF0\x9F\x98\x80\xFF", "\xF0\x9F\x98\x80" + kFFFD},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(utf8_sanitize(c.in), c.out);
        // Streamed byte by byte: the same.
        Utf8StreamDecoder d;
        std::string out;
        for (char ch : c.in) out += d.push(std::string(1, ch));
        EXPECT_EQ(out + d.finish(), c.out);
    }
    // A broken sequence does not swallow the character after it.
    Utf8StreamDecoder d;
    EXPECT_EQ(d.push("\xF0\x9F"), "");
    EXPECT_EQ(d.push("A"), kFFFD + "A");
}

// Real tokenizers: "Hi 🤗!" is split by Llama 2's vocabulary into byte-fallback tokens
// <0xF0><0x9F><0xA4><0x97> and by GPT-2's into byte-level tokens that end inside the emoji.
// Streamed the way `attend generate` prints (DecodeStream), nothing of the emoji is printed
// until its last byte's token, and the pieces add up to the text.
TEST(Utf8Stream, RealTokenizersStreamAnEmojiWhole) {
    const std::string emoji = "\xF0\x9F\xA4\x97", text = "Hi " + emoji + "!";
    for (const std::string relative : {"llama2c_tokenizer_32k/tokenizer.bin", "gpt2_fake_hf/tokenizer.json"}) {
        const auto tok = load_tokenizer(shared_data(relative));
        const std::vector<int64_t> ids = tok->encode(text);
        // The emoji really is split: some token's own bytes are not whole UTF-8.
        bool split = false;
        for (int64_t id : ids) split |= !is_complete_utf8(tok->decode({id}));
        EXPECT_TRUE(split) << relative;

        DecodeStream stream(*tok);
        std::string printed;
        int pieces_with_emoji = 0;
        for (int64_t id : ids) {
            const std::string piece = stream.push(id);
            EXPECT_TRUE(is_complete_utf8(piece)) << relative << ": a piece ends inside a character";
            pieces_with_emoji += piece.find(emoji) != std::string::npos;
            printed += piece;
        }
        printed += stream.finish();
        EXPECT_EQ(pieces_with_emoji, 1) << relative;
        // Llama's decode drops the leading space SentencePiece adds; the text is the same.
        EXPECT_EQ(printed, text) << relative;
    }
}

// A byte token that can never make a character (Llama's <0x80> alone, a continuation byte
// with no first byte) is printed as U+FFFD, as Hugging Face's decode gives it; the rest of the
// text is untouched and the pieces still add up to the whole decode, sanitized.
TEST(Utf8Stream, DecodeStreamReplacesAStrayByte) {
    const auto tok = load_tokenizer(shared_data("llama2c_tokenizer_32k/tokenizer.bin"));
    int64_t stray = -1;
    for (int64_t id = 0; id < tok->vocab_size() && stray < 0; ++id)
        if (tok->decode({id}, false) == "\x80") stray = id;
    ASSERT_GE(stray, 0) << "no <0x80> byte token";
    std::vector<int64_t> ids = tok->encode("Hi");
    ids.push_back(stray);
    for (int64_t id : tok->encode("there")) ids.push_back(id);  // SentencePiece: "▁there"

    DecodeStream stream(*tok);
    std::string printed;
    for (int64_t id : ids) {
        const std::string piece = stream.push(id);
        EXPECT_TRUE(is_complete_utf8(piece)) << "a piece is not whole, valid UTF-8";
        printed += piece;
    }
    printed += stream.finish();
    EXPECT_EQ(printed, "Hi" + kFFFD + " there");
    EXPECT_EQ(printed, utf8_sanitize(tok->decode(ids)));
}
