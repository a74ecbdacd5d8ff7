// tokenizers/sentencepiece_bpe.cpp — SentencePiece BPE from llama2.c's tokenizer.bin (Llama-2's
// 32k vocabulary, the tinyllamas' tok512.bin, ...).
//
// File (little-endian): int32 max_token_length, then for each token until the end of the file:
// float32 score, int32 length, length bytes. Ids 0, 1, 2 are <unk>, BOS, EOS (llama2.c's
// convention); the pieces <0x00> .. <0xFF> are the byte-fallback tokens; a space is ' ' where
// SentencePiece writes '▁'.
//
// Encoding, as llama2.c's run.c (and SentencePiece's BPE, which Hugging Face's Llama
// tokenizer wraps):
//   prepend a space to non-empty text (SentencePiece's add_dummy_prefix)
//   each UTF-8 character → its piece, or, when the vocabulary lacks it, its bytes' <0xXX> pieces
//   repeatedly merge the adjacent pair whose concatenation is the piece with the best score,
//   the leftmost among equals (merge.hpp)
// This gives Hugging Face's Llama-2 ids on all 46 of llama.cpp's test strings (leading spaces:
// " " → [259], "  Hello" → [259, 15043]; tabs and newlines by byte fallback: "\n" → [29871, 13];
// digits one by one; emoji and Khmer as <0xXX> bytes). Where llama2.c and Hugging Face differ:
//   - special-token text: llama2.c never reads "<s>" in text; Hugging Face always does. We read
//     "<unk>", "<s>", "</s>" only with add_special, and give the text after one its own dummy
//     prefix, as the fast tokenizer and the slow one with legacy=True do (transformers' slow
//     tokenizer with legacy=False adds no prefix there);
//   - EOS is never added (Llama-2's add_eos_token is false); BOS is, with add_special;
//   - bytes that are not UTF-8 (which Hugging Face cannot take as text) go to byte fallback one
//     by one; llama2.c groups them by their lead byte first;
//   - byte-fallback and control pieces never take part in a merge, as in SentencePiece: llama2.c
//     would merge the text "<0x41>" into the byte token for 'A' if the six characters could be
//     assembled (in the shipped vocabularies they cannot, so the ids agree).
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "attend/error.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/merge.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

class SentencePieceBPE final : public Tokenizer {
public:
    SentencePieceBPE(std::vector<std::string> pieces, std::vector<float> scores, SentencePieceOptions options,
                     const std::string& origin)
        : pieces_(std::move(pieces)), scores_(std::move(scores)), options_(std::move(options)) {
        source_ = origin;
        const int32_t n = int32_t(pieces_.size());
        byte_ids_.fill(-1);
        kind_.assign(n, Normal);
        for (int32_t id = 0; id < n; ++id) {
            const std::string& p = pieces_[id];
            unsigned byte = 0;
            char tail = 0;
            if (p.size() == 6 && std::sscanf(p.c_str(), "<0x%2X%c", &byte, &tail) == 2 && tail == '>' &&
                std::isxdigit(uint8_t(p[3])) && std::isxdigit(uint8_t(p[4]))) {
                if (byte_ids_[byte] < 0) byte_ids_[byte] = id;
                kind_[id] = Byte;
            }
        }
        if (options_.types.empty()) {
            for (int32_t id = 0; id < std::min(n, 3); ++id) kind_[id] = Control;  // <unk>, <s>, </s>
        } else {
            if (options_.types.size() != size_t(n)) bad_file(origin, "token types and tokens differ in number");
            // llama.cpp's token types: 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
            for (int32_t id = 0; id < n; ++id) {
                const int64_t t = options_.types[id];
                if (t == 2 || t == 3 || t == 5) kind_[id] = Control;
                else if (t == 4) kind_[id] = UserDefined;
                else if (t == 6 && kind_[id] != Byte) bad_file(origin, "token " + std::to_string(id) + " " + quote_token(pieces_[id]) + " has the byte type but is not <0xXX>");
                else if (t != 6) kind_[id] = Normal;
            }
            byte_ids_.fill(-1);  // only pieces typed as bytes stand for bytes
            for (int32_t id = 0; id < n; ++id)
                if (kind_[id] == Byte && byte_ids_[byte_of(id)] < 0) byte_ids_[byte_of(id)] = id;
        }
        for (const std::optional<int64_t>& special : {options_.bos, options_.eos, options_.unk})
            if (special && (*special < 0 || *special >= n))
                bad_file(origin, "special token id " + std::to_string(*special) + " is outside the vocabulary (" + std::to_string(n) + " tokens)");
        for (int32_t id = 0; id < n; ++id)
            if (kind_[id] == Normal) ids_.emplace(pieces_[id], id);  // a repeated piece keeps its first id
        // Control pieces are written "\n<s>\n" in llama2.c's files; their names drop the newlines.
        for (int32_t id = 0; id < n; ++id) {
            if (kind_[id] != Control && kind_[id] != UserDefined) continue;
            std::string name = pieces_[id];
            while (!name.empty() && name.front() == '\n') name.erase(0, 1);
            while (!name.empty() && name.back() == '\n') name.pop_back();
            names_[id] = name;
            if (name.empty() || (options_.types.size() && options_.types[id] == 5)) continue;  // unused slots never match
            (kind_[id] == Control ? specials_ : always_).push_back({name, id});
        }
    }

    using Tokenizer::encode;
    std::vector<int64_t> encode(std::string_view text, SpecialTokenMode specials) const override {
        const bool add_special = specials == SpecialTokenMode::add;
        std::vector<int64_t> out;
        if (add_special && options_.add_bos && bos_id()) out.push_back(*bos_id());  // Llama adds BOS, not EOS
        // "<s>" written in the text is BOS (unless as_text), and the text after it gets its own
        // dummy prefix, as in Hugging Face's (legacy) Llama tokenizer. User-defined pieces
        // (GGUF token type 4) are always matched, as llama.cpp does.
        std::vector<SpecialToken> matched = always_;
        if (specials != SpecialTokenMode::as_text) matched.insert(matched.end(), specials_.begin(), specials_.end());
        if (matched.empty()) {
            encode_text(text, out);
        } else {
            for (const Segment& seg : split_on_special(text, matched)) {
                if (seg.id >= 0) out.push_back(seg.id);
                else encode_text(seg.text, out);
            }
        }
        if (add_special && options_.add_eos && eos_id()) out.push_back(*eos_id());
        return out;
    }

    // Pieces concatenated, ' ' as is and <0xXX> as the byte. The dummy prefix comes off again:
    // the first piece's leading space is dropped when only BOS (or nothing) precedes it, as
    // SentencePiece and llama2.c do.
    std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
        std::string out;
        bool at_start = true;
        for (int64_t id : ids) {
            check_id(id);
            if (kind_[id] == UserDefined) {
                out += names_.at(id);
                at_start = false;
                continue;
            }
            if (kind_[id] == Control) {
                if (!skip_special) out += names_.at(id);
                if (id != bos_id()) at_start = false;
                continue;
            }
            if (kind_[id] == Byte) {
                out += char(byte_of(id));
            } else {
                const std::string& p = pieces_[id];
                out.append(p, at_start && !p.empty() && p[0] == ' ' ? 1 : 0, std::string::npos);
            }
            at_start = false;
        }
        return out;
    }

    std::string token_text(int64_t id) const override {
        check_id(id);
        return kind_[id] == Control || kind_[id] == UserDefined ? names_.at(id) : pieces_[id];
    }
    std::optional<int64_t> token_id(std::string_view token) const override {
        for (const auto& [id, name] : names_)
            if (name == token) return id;
        if (const auto it = ids_.find(std::string(token)); it != ids_.end()) return it->second;
        for (int64_t id = 0; id < int64_t(pieces_.size()); ++id)  // byte pieces by name
            if (kind_[id] == Byte && pieces_[id] == token) return id;
        return std::nullopt;
    }
    int64_t vocab_size() const override { return int64_t(pieces_.size()); }
    std::optional<int64_t> unk_id() const override { return options_.unk; }
    std::optional<int64_t> bos_id() const override { return options_.bos; }
    std::optional<int64_t> eos_id() const override { return options_.eos; }
    std::string_view kind() const override { return "llama2c-bpe"; }

std::optional<TokenizerVocabulary> vocabulary() const override {
        TokenizerVocabulary v{.model = "llama", .tokens = {}, .scores = scores_, .types = {}, .merges = {}, .pre = {}};
        for (size_t id = 0; id < pieces_.size(); ++id) {
            if (kind_[id] == Control || kind_[id] == UserDefined) {
                v.tokens.push_back(names_.at(id));
                v.types.push_back(!options_.types.empty() ? int32_t(options_.types[id])
                                  : kind_[id] == UserDefined ? 4
                                  : int64_t(id) == options_.unk ? 2 : 3);  // <unk>, then <s> and </s>
                continue;
            }
            std::string piece;  // llama2.c writes SentencePiece's U+2581 as a space
            for (char c : pieces_[id]) piece += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
            v.tokens.push_back(piece);
            v.types.push_back(kind_[id] == Byte ? 6 : 1);
        }
        return v;
    }

private:
    enum PieceKind : uint8_t { Normal, Byte, Control, UserDefined };

    void check_id(int64_t id) const {
        if (id < 0 || id >= int64_t(pieces_.size()))
            throw Error("llama2c-bpe tokenizer: token id " + std::to_string(id) + " is outside the vocabulary (0 .. " +
                        std::to_string(int64_t(pieces_.size()) - 1) + ")");
    }
    uint8_t byte_of(int64_t id) const { return uint8_t(std::strtoul(pieces_[id].c_str() + 3, nullptr, 16)); }

    void encode_text(std::string_view text, std::vector<int64_t>& out) const {
        if (text.empty()) return;
        std::vector<int32_t> symbols;
        symbols.reserve(text.size() + 1);
        const auto add_piece = [&](std::string_view piece, bool is_character) {
            if (is_character)
                if (const auto it = ids_.find(std::string(piece)); it != ids_.end()) {
                    symbols.push_back(it->second);
                    return;
                }
            for (unsigned char b : piece)  // byte fallback; <unk> if the vocabulary has no byte pieces
                symbols.push_back(byte_ids_[b] >= 0 ? byte_ids_[b] : int32_t(options_.unk.value_or(0)));
        };
        add_piece(" ", true);  // the dummy prefix
        for (size_t i = 0; i < text.size();) {
            const unicode::Utf8Step s = unicode::next_utf8(text, i);
            add_piece(text.substr(i, s.len), s.valid);  // a malformed byte goes straight to byte fallback
            i += s.len;
        }
        std::string joined;
        merge_symbols(symbols, [&](int32_t a, int32_t b) -> std::optional<Merge> {
            if (kind_[a] != Normal || kind_[b] != Normal) return std::nullopt;
            joined.assign(pieces_[a]).append(pieces_[b]);
            const auto it = ids_.find(joined);
            if (it == ids_.end()) return std::nullopt;
            return Merge{double(scores_[it->second]), it->second};
        });
        out.insert(out.end(), symbols.begin(), symbols.end());
    }

    std::vector<std::string> pieces_;
    std::vector<float> scores_;
    std::vector<PieceKind> kind_;
    std::array<int32_t, 256> byte_ids_{};
    std::unordered_map<std::string, int32_t> ids_;  // normal pieces only
    SentencePieceOptions options_;
    std::unordered_map<int64_t, std::string> names_;  // control and user-defined: "<unk>", "<s>", "</s>", ...
    std::vector<SpecialToken> specials_;              // control pieces, matched with add_special
    std::vector<SpecialToken> always_;                // user-defined pieces, always matched
};

}  // namespace

std::unique_ptr<Tokenizer> parse_llama2c(std::string_view bytes, const std::string& origin) {
    const auto read_i32 = [&](size_t at) {
        int32_t v;
        std::memcpy(&v, bytes.data() + at, 4);
        return v;
    };
    if (bytes.size() < 4) bad_file(origin, "truncated: " + std::to_string(bytes.size()) + " bytes, no max_token_length header");
    const int32_t max_len = read_i32(0);
    if (max_len <= 0 || max_len > (1 << 20))
        bad_file(origin, "max_token_length " + std::to_string(max_len) + " is not a plausible token length (not a llama2.c tokenizer.bin?)");
    std::vector<std::string> pieces;
    std::vector<float> scores;
    size_t at = 4;
    while (at < bytes.size()) {
        const std::string which = "token " + std::to_string(pieces.size()) + " (at byte " + std::to_string(at) + ")";
        if (bytes.size() - at < 8)
            bad_file(origin, "truncated: " + which + " needs 8 bytes of score and length, the file has " +
                                 std::to_string(bytes.size() - at) + " left");
        float score;
        std::memcpy(&score, bytes.data() + at, 4);
        const int32_t len = read_i32(at + 4);
        if (!std::isfinite(score)) bad_file(origin, which + " has a score that is not a finite number");
        if (len <= 0 || len > max_len)
            bad_file(origin, which + " has length " + std::to_string(len) + ", outside 1 .. max_token_length " + std::to_string(max_len));
        if (bytes.size() - at - 8 < size_t(len))
            bad_file(origin, "truncated: " + which + " needs " + std::to_string(len) + " bytes, the file has " +
                                 std::to_string(bytes.size() - at - 8) + " left");
        pieces.emplace_back(bytes.substr(at + 8, size_t(len)));
        scores.push_back(score);
        at += 8 + size_t(len);
    }
    if (pieces.size() < 3) bad_file(origin, "has " + std::to_string(pieces.size()) + " tokens; llama2.c needs at least <unk>, <s>, </s>");
    SentencePieceOptions options;  // llama2.c's layout: <unk> 0, <s> 1, </s> 2; BOS added
    options.unk = 0, options.bos = 1, options.eos = 2;
    return std::make_unique<SentencePieceBPE>(std::move(pieces), std::move(scores), std::move(options), origin);
}

std::unique_ptr<Tokenizer> make_sentencepiece_bpe(std::vector<std::string> pieces, std::vector<float> scores,
                                                  SentencePieceOptions options, const std::string& origin) {
    if (pieces.size() != scores.size()) bad_file(origin, "scores and tokens differ in number");
    if (pieces.empty()) bad_file(origin, "has no tokens");
    return std::make_unique<SentencePieceBPE>(std::move(pieces), std::move(scores), std::move(options), origin);
}

}  // namespace attend::tokenizers
