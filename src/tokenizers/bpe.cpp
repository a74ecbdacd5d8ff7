// tokenizers/bpe.cpp — GPT-2's byte-level BPE (OpenAI's encoder.py; Hugging Face's BPE model
// with the ByteLevel pre-tokeniser).
//
//   text → pieces by GPT-2's pattern (byte_level.cpp) → each piece's bytes, one symbol each →
//   merge adjacent symbols by the rank of their merge rule, lowest rank first (merge.hpp) →
//   ids. Decoding concatenates the tokens' bytes.
//
// The vocabulary files spell bytes with bytes_to_unicode() ('Ġ' for a space); we undo that
// once at load time and work on raw bytes, so text never needs mapping while encoding.
#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "attend/error.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "tokenizers/byte_level.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/merge.hpp"
#include "tokenizers/pipeline_parts.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

class ByteLevelBPE final : public Tokenizer {
public:
    struct Options {
        bool add_prefix_space = false;  // ByteLevel's add_prefix_space: " " before text that lacks one
        bool use_regex = true;          // ByteLevel's use_regex: split with GPT-2's pattern first
    };

    // Everything read from the files. vocab: token as written there (byte-mapped) → id.
    // added: tokens matched in text before anything else (special ones only with add_special),
    // written as plain text. merges: rules in rank order; merge_where[k] locates rule k for errors.
    struct Source {
        std::vector<std::pair<std::string, int64_t>> vocab;
        std::vector<std::pair<std::string, std::string>> merges;
        std::vector<std::string> merge_where;
        std::vector<SpecialToken> added;
        std::vector<bool> added_special;
        Options options;
        Template post;
        std::string vocab_origin, merges_origin;
    };

    explicit ByteLevelBPE(const Source& src) : options_(src.options), post_(src.post) {
        const std::string& origin = src.vocab_origin;
        source_ = src.vocab_origin == src.merges_origin ? origin : origin + " + " + src.merges_origin;
        std::unordered_map<int64_t, std::string> added_text;
        int64_t max_id = -1;
        for (const SpecialToken& a : src.added) {
            if (a.id < 0 || a.id > INT32_MAX) bad_file(origin, "added token " + quote_token(a.text) + " has id " + std::to_string(a.id));
            added_text[a.id] = a.text;
            max_id = std::max(max_id, a.id);
        }
        for (const auto& [text, id] : src.vocab) {
            if (id < 0 || id > INT32_MAX) bad_file(origin, "token " + quote_token(text) + " has id " + std::to_string(id) + ", outside 0 .. 2^31");
            max_id = std::max(max_id, id);
        }
        check_id_range(max_id, src.vocab.size() + src.added.size(), origin);
        tokens_.assign(size_t(max_id + 1), std::string());
        present_.assign(size_t(max_id + 1), false);
        ids_.reserve(src.vocab.size() + src.added.size());
        merges_.reserve(src.merges.size());
        const auto add = [&](const std::string& bytes, int64_t id) {
            tokens_[id] = bytes;
            present_[id] = true;
            ids_.emplace(bytes, int32_t(id));
        };
        for (const auto& [text, id] : src.vocab) {
            if (present_[id])
                bad_file(origin, "id " + std::to_string(id) + " is given to two tokens, " + quote_token(tokens_[id]) + " and " + quote_token(text));
            // Added tokens are plain text ("<|endoftext|>"); the rest spell bytes ('Ġ' = space).
            if (const auto it = added_text.find(id); it != added_text.end()) {
                add(it->second, id);
                continue;
            }
            const std::optional<std::string> bytes = bytes_from_vocab_text(text);
            if (!bytes)
                bad_file(origin, "token " + quote_token(text) + " (id " + std::to_string(id) + ") has a character outside GPT-2's byte alphabet");
            add(*bytes, id);
        }
        for (const auto& [id, text] : added_text)  // added tokens beyond model.vocab
            if (!present_[id]) add(text, id);
        for (int b = 0; b < 256; ++b) {
            const auto it = ids_.find(std::string(1, char(b)));
            if (it == ids_.end())
                bad_file(origin, "the vocabulary lacks the token for byte " + std::to_string(b) + " (" +
                                     quote_token(unicode::to_utf8(byte_to_unicode(uint8_t(b)))) + "), which byte-level BPE needs");
            byte_ids_[b] = it->second;
        }
        for (size_t rank = 0; rank < src.merges.size(); ++rank) {
            // Named references, not a structured binding: C++20 lets a lambda capture a binding,
            // but clang 14 (the fuzz build) does not.
            const std::string& a = src.merges[rank].first;
            const std::string& b = src.merges[rank].second;
            // The rule's place in its file, for an error only (50 k rules: not built on the way).
            const auto bad_rule = [&](const std::string& what) {
                bad_file(src.merges_origin, src.merge_where[rank] + " " + quote_token(a + " " + b) + what);
            };
            const auto ba = bytes_from_vocab_text(a), bb = bytes_from_vocab_text(b);
            if (!ba || !bb) bad_rule(" has a character outside GPT-2's byte alphabet");
            const auto ia = ids_.find(*ba), ib = ids_.find(*bb), iab = ids_.find(*ba + *bb);
            if (ia == ids_.end()) bad_rule(" refers to " + quote_token(a) + ", which is not in the vocabulary");
            if (ib == ids_.end()) bad_rule(" refers to " + quote_token(b) + ", which is not in the vocabulary");
            if (iab == ids_.end()) bad_rule(" makes " + quote_token(a + b) + ", which is not in the vocabulary");
            // A repeated rule keeps its first (best) rank, as Hugging Face's BPE does.
            merges_.emplace(pair_key(ia->second, ib->second), std::pair<int32_t, int32_t>{int32_t(rank), iab->second});
        }
        for (size_t k = 0; k < src.added.size(); ++k) {
            (src.added_special[k] ? specials_ : always_added_).push_back(src.added[k]);
            if (src.added_special[k]) special_ids_.push_back(src.added[k].id);
        }
        if (const auto it = ids_.find("<|endoftext|>"); it != ids_.end()) eot_ = it->second;
    }

    using Tokenizer::encode;
    std::vector<int64_t> encode(std::string_view text, SpecialTokenMode specials) const override {
        const bool add_special = specials == SpecialTokenMode::add;
        std::vector<int64_t> out(add_special ? post_.before : std::vector<int64_t>{});
        std::vector<SpecialToken> matched = always_added_;
        if (specials != SpecialTokenMode::as_text) matched.insert(matched.end(), specials_.begin(), specials_.end());
        bool first = true;
        for (const Segment& seg : split_on_special(text, matched)) {
            if (seg.id >= 0) {
                out.push_back(seg.id);
            } else if (options_.add_prefix_space && first && !seg.text.empty() && seg.text[0] != ' ') {
                encode_text(" " + std::string(seg.text), out);
            } else {
                encode_text(seg.text, out);
            }
            first = false;
        }
        if (add_special) out.insert(out.end(), post_.after.begin(), post_.after.end());
        return out;
    }

    std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
        std::string out;
        for (int64_t id : ids) {
            check_id(id);
            if (skip_special && std::find(special_ids_.begin(), special_ids_.end(), id) != special_ids_.end()) continue;
            out += tokens_[id];
        }
        return out;
    }

    std::string token_text(int64_t id) const override {
        check_id(id);
        // Whole characters as they are; the bytes of a partial character as <0xXX>.
        const std::string& bytes = tokens_[id];
        std::string label;
        for (size_t i = 0; i < bytes.size();) {
            const unicode::Utf8Step s = unicode::next_utf8(bytes, i);
            if (s.valid) {
                label.append(bytes, i, s.len);
            } else {
                char buf[8];
                std::snprintf(buf, sizeof buf, "<0x%02X>", unsigned(uint8_t(bytes[i])));
                label += buf;
            }
            i += s.len;
        }
        return label;
    }

    std::optional<int64_t> token_id(std::string_view token) const override {
        const auto it = ids_.find(std::string(token));
        if (it == ids_.end()) return std::nullopt;
        return it->second;
    }

    int64_t vocab_size() const override { return int64_t(tokens_.size()); }
    std::optional<int64_t> bos_id() const override { return eot_; }  // GPT-2 uses <|endoftext|> for both
    std::optional<int64_t> eos_id() const override { return eot_; }
    std::string_view kind() const override { return "gpt2-bpe"; }

    std::optional<TokenizerVocabulary> vocabulary() const override {
        TokenizerVocabulary v{.model = "gpt2", .tokens = {}, .scores = {}, .types = {}, .merges = {}, .pre = {}};
        std::unordered_map<int64_t, int32_t> added;  // id → control (special) or user-defined
        for (const SpecialToken& a : always_added_) added[a.id] = 4;
        for (const SpecialToken& a : specials_) added[a.id] = 3;
        for (size_t id = 0; id < tokens_.size(); ++id) {
            const auto a = added.find(int64_t(id));
            if (!present_[id]) v.tokens.push_back("[PAD" + std::to_string(id) + "]"), v.types.push_back(5);
            else if (a != added.end()) v.tokens.push_back(tokens_[id]), v.types.push_back(a->second);
            else v.tokens.push_back(vocab_text_from_bytes(tokens_[id])), v.types.push_back(1);
        }
        std::vector<std::pair<int32_t, uint64_t>> ranked;  // (rank, pair)
        for (const auto& [key, m] : merges_) ranked.emplace_back(m.first, key);
        std::sort(ranked.begin(), ranked.end());
        for (const auto& [rank, key] : ranked)
            v.merges.push_back(v.tokens[size_t(key >> 32)] + " " + v.tokens[size_t(key & 0xffffffffu)]);
        return v;
    }

private:
    static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

    void check_id(int64_t id) const {
        if (id < 0 || id >= int64_t(tokens_.size()) || !present_[id])
            throw Error("gpt2-bpe tokenizer: token id " + std::to_string(id) + " is not in the vocabulary (0 .. " +
                        std::to_string(int64_t(tokens_.size()) - 1) + ")");
    }

    void encode_text(std::string_view text, std::vector<int64_t>& out) const {
        if (!options_.use_regex) {
            encode_piece(text, out);
            return;
        }
        for (std::string_view piece : gpt2_pretokenize(text)) encode_piece(piece, out);
    }

    // One pre-token: its bytes as symbols, merged by rank. Results are cached, as in encoder.py.
    void encode_piece(std::string_view piece, std::vector<int64_t>& out) const {
        {
            std::lock_guard<std::mutex> lock(cache_mutex_);
            if (const auto it = cache_.find(std::string(piece)); it != cache_.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                return;
            }
        }
        std::vector<int32_t> ids;
        ids.reserve(piece.size());
        for (unsigned char b : piece) ids.push_back(byte_ids_[b]);
        merge_symbols(ids, [&](int32_t a, int32_t b) -> std::optional<Merge> {
            const auto it = merges_.find(pair_key(a, b));
            if (it == merges_.end()) return std::nullopt;
            return Merge{-double(it->second.first), it->second.second};  // lower rank = higher priority
        });
        out.insert(out.end(), ids.begin(), ids.end());
        if (piece.size() > 256) return;  // long pieces (use_regex off, whitespace runs) rarely repeat
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cache_.size() > 100000) cache_.clear();  // bounded: long-running servers see unbounded text
        cache_.emplace(std::string(piece), std::move(ids));
    }

    Options options_;
    Template post_;
    std::vector<std::string> tokens_;                   // id → bytes
    std::vector<bool> present_;                         // ids may have gaps in a hand-made vocab
    std::unordered_map<std::string, int32_t> ids_;      // bytes → id
    std::array<int32_t, 256> byte_ids_{};               // byte → id of its one-byte token
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (left, right) → (rank, merged)
    std::vector<SpecialToken> specials_, always_added_;
    std::vector<int64_t> special_ids_;
    std::optional<int64_t> eot_;
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// merges.txt / vocab.bpe: an optional "#version" line, then "left right" per line.
void parse_merges_txt(std::string_view text, const std::string& origin,
                      std::vector<std::pair<std::string, std::string>>& merges, std::vector<std::string>& where) {
    size_t pos = 0;
    int line_no = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || (line_no == 1 && line.substr(0, 8) == "#version")) continue;
        const size_t space = line.find(' ');
        if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
            line.find(' ', space + 1) != std::string_view::npos)
            bad_file(origin, "line " + std::to_string(line_no) + " is not a merge rule \"left right\": " + quote_token(line));
        merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
        where.push_back("line " + std::to_string(line_no));
    }
}

}  // namespace

std::unique_ptr<Tokenizer> parse_gpt2(std::string_view vocab_json, std::string_view merges_txt,
                                      const std::string& vocab_origin, const std::string& merges_origin) {
    ByteLevelBPE::Source src;
    src.vocab_origin = vocab_origin;
    src.merges_origin = merges_origin;
    src.vocab = parse_vocab_json(vocab_json, vocab_origin, "the vocabulary");
    parse_merges_txt(merges_txt, merges_origin, src.merges, src.merge_where);
    for (const auto& [text, id] : src.vocab)
        if (text == "<|endoftext|>") {
            src.added.push_back({text, id});
            src.added_special.push_back(true);
        }
    return std::make_unique<ByteLevelBPE>(src);
}

// tokenizer.json with "model": {"type": "BPE"} (called from parse_hf_tokenizer_json).
std::unique_ptr<Tokenizer> parse_hf_bpe(const json& j, const std::string& origin) {
    const json& model = j["model"];
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
            bad_file(origin, std::string("BPE with a ") + key + " is not supported (only GPT-2-style byte-level BPE is)");
    if (model.contains("byte_fallback") && model["byte_fallback"].is_boolean() && model["byte_fallback"].get<bool>())
        bad_file(origin, "BPE with byte_fallback (a SentencePiece/Llama conversion) is not supported; use llama2.c's tokenizer.bin");
    if (j.contains("normalizer") && !j["normalizer"].is_null())
        bad_file(origin, "byte-level BPE with a normalizer is not supported (GPT-2 has none)");

    ByteLevelBPE::Source src;
    src.vocab_origin = src.merges_origin = origin;
    ByteLevelBPE::Options& options = src.options;
    const json& pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json();
    if (!pre.is_object() || !pre.contains("type") || pre["type"] != "ByteLevel")
        bad_file(origin, "BPE needs pre_tokenizer ByteLevel (GPT-2's); found " +
                             (pre.is_object() && pre.contains("type") ? pre["type"].dump() : pre.dump()));
    if (pre.contains("add_prefix_space") && pre["add_prefix_space"].is_boolean()) options.add_prefix_space = pre["add_prefix_space"];
    if (pre.contains("use_regex") && pre["use_regex"].is_boolean()) options.use_regex = pre["use_regex"];

    if (!model.contains("vocab")) bad_file(origin, "model has no \"vocab\"");
    src.vocab = read_vocab_object(model["vocab"], origin, "model.vocab");
    if (!model.contains("merges") || !model["merges"].is_array()) bad_file(origin, "model has no \"merges\" list");
    auto& merges = src.merges;
    int k = 0;
    for (const json& m : model["merges"]) {
        ++k;
        if (m.is_string()) {  // "Ġ t" (tokenizers < 0.20)
            const std::string s = m;
            const size_t space = s.find(' ');
            if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos)
                bad_file(origin, "model.merges[" + std::to_string(k - 1) + "] is not \"left right\": " + quote_token(s));
            merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["Ġ", "t"]
            merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
            bad_file(origin, "model.merges[" + std::to_string(k - 1) + "] is neither \"left right\" nor [left, right]");
        }
        src.merge_where.push_back("model.merges[" + std::to_string(k - 1) + "]");
    }

    read_added_tokens(j, origin, src.added, src.added_special);
    src.post = read_post_processor(j, origin, src.vocab, src.added);
    return std::make_unique<ByteLevelBPE>(src);
}

}  // namespace attend::tokenizers
