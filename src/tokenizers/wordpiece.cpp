// tokenizers/wordpiece.cpp — BERT's WordPiece (Google's tokenization.py; Hugging Face's
// BertNormalizer + BertPreTokenizer + WordPiece model).
//
//   normalise, per character:  drop NUL, U+FFFD and control/format/unassigned characters,
//                              whitespace → ' ', pad CJK ideographs with spaces, strip accents
//                              (NFD, drop nonspacing marks Mn), lower-case
//   split:                     on whitespace, and every punctuation character stands alone
//   each word:                 greedy longest match first from the left, pieces after the first
//                              prefixed "##"; a word with no match, or over 100 characters, is [UNK]
//
// Where Google's Python and Hugging Face's Rust disagree, we follow Hugging Face (the standard
// the tests hold us to): control characters are all of C* (Python: Cc and Cf only); whitespace
// is Unicode's White_Space (Python: Zs and \t\n\r); lower case is per character, so a final Σ
// becomes σ, not ς (Python's str.lower() uses ς).
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "attend/error.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

bool is_cjk(char32_t c) {  // the CJK Unified Ideographs blocks, as BERT lists them
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_bert_whitespace(char32_t c) { return c == U'\t' || c == U'\n' || c == U'\r' || unicode::is_white_space(c); }

bool is_bert_control(char32_t c) {
    if (c == U'\t' || c == U'\n' || c == U'\r') return false;  // whitespace to BERT, not control
    const unicode::Class k = unicode::classify(c);
    return k == unicode::Class::Control || k == unicode::Class::Format || k == unicode::Class::Unassigned;
}

bool is_bert_punctuation(char32_t c) {
    // All non-alphanumeric ASCII ($, +, ^, `, ...) counts, though not all of it is \p{P}.
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
    return unicode::is_punctuation(c);
}

class WordPiece final : public Tokenizer {
public:
    struct Source {
        std::vector<std::pair<std::string, int64_t>> vocab;  // token → id
        WordPieceOptions options;
        std::string unk = "[UNK]", prefix = "##";
        std::vector<SpecialToken> added;
        std::vector<bool> added_special;
        Template post;
        std::string origin;
    };

    explicit WordPiece(const Source& src) : options_(src.options), prefix_(src.prefix), post_(src.post) {
        source_ = src.origin;
        int64_t max_id = -1;
        for (const auto& [text, id] : src.vocab) {
            if (id < 0 || id > INT32_MAX) bad_file(src.origin, "token " + quote_token(text) + " has id " + std::to_string(id));
            max_id = std::max(max_id, id);
        }
        for (const SpecialToken& a : src.added) {
            if (a.id < 0 || a.id > INT32_MAX) bad_file(src.origin, "added token " + quote_token(a.text) + " has id " + std::to_string(a.id));
            max_id = std::max(max_id, a.id);
        }
        check_id_range(max_id, src.vocab.size() + src.added.size(), src.origin);
        tokens_.assign(size_t(max_id + 1), std::string());
        present_.assign(size_t(max_id + 1), false);
        for (const auto& [text, id] : src.vocab) {
            tokens_[id] = text;
            present_[id] = true;
            ids_[text] = id;  // a repeated token keeps its last id, as BERT's load_vocab does
        }
        for (size_t k = 0; k < src.added.size(); ++k) {
            const SpecialToken& a = src.added[k];
            if (!present_[a.id]) {
                tokens_[a.id] = a.text;
                present_[a.id] = true;
                ids_.emplace(a.text, a.id);
            }
            (src.added_special[k] ? specials_ : always_added_).push_back(a);
            if (src.added_special[k]) special_ids_.insert(a.id);
        }
        const auto unk = ids_.find(src.unk);
        if (unk == ids_.end()) bad_file(src.origin, "the vocabulary has no unknown token " + quote_token(src.unk));
        unk_ = unk->second;
        if (const auto pad = ids_.find("[PAD]"); pad != ids_.end()) pad_ = pad->second;
        if (options_.max_input_chars_per_word < 1) bad_file(src.origin, "max_input_chars_per_word must be positive");
    }

    using Tokenizer::encode;
    std::vector<int64_t> encode(std::string_view text, SpecialTokenMode specials) const override {
        const bool add_special = specials == SpecialTokenMode::add;
        std::vector<int64_t> out(add_special ? post_.before : std::vector<int64_t>{});
        std::vector<SpecialToken> matched = always_added_;
        if (specials != SpecialTokenMode::as_text) matched.insert(matched.end(), specials_.begin(), specials_.end());
        for (const Segment& seg : split_on_special(text, matched)) {
            if (seg.id >= 0) out.push_back(seg.id);
            else
                for (const std::u32string& word : split_words(normalize(seg.text))) encode_word(word, out);
        }
        if (add_special) out.insert(out.end(), post_.after.begin(), post_.after.end());
        return out;
    }

    // Hugging Face's WordPiece decoder: tokens joined by spaces, "##" pieces glued to the
    // previous one, then transformers' clean_up_tokenization (" ." → ".", " n't" → "n't", ...).
    std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
        std::string out;
        bool first = true;
        for (int64_t id : ids) {
            check_id(id);
            if (skip_special && special_ids_.count(id)) continue;
            const std::string& t = tokens_[id];
            if (!first && t.compare(0, prefix_.size(), prefix_) == 0 && !prefix_.empty()) {
                out.append(t, prefix_.size());
            } else {
                if (!first) out += ' ';
                out += t;
            }
            first = false;
        }
        for (const auto& [from, to] : kCleanup) {
            for (size_t p = out.find(from); p != std::string::npos; p = out.find(from, p + to.size()))
                out.replace(p, from.size(), to);
        }
        return out;
    }

    std::string token_text(int64_t id) const override {
        check_id(id);
        return tokens_[id];
    }
    std::optional<int64_t> token_id(std::string_view token) const override {
        const auto it = ids_.find(std::string(token));
        if (it == ids_.end()) return std::nullopt;
        return it->second;
    }
    int64_t vocab_size() const override { return int64_t(tokens_.size()); }
    std::optional<int64_t> unk_id() const override { return unk_; }
    std::optional<int64_t> pad_id() const override { return pad_; }
    std::string_view kind() const override { return "wordpiece"; }

std::optional<TokenizerVocabulary> vocabulary() const override {
        TokenizerVocabulary v{.model = "bert", .tokens = {}, .scores = {}, .types = {}, .merges = {}, .pre = {}};
        std::unordered_map<int64_t, bool> special;
        for (const SpecialToken& a : specials_) special[a.id] = true;
        for (const SpecialToken& a : always_added_) special[a.id] = true;
        for (size_t id = 0; id < tokens_.size(); ++id) {
            const std::string& t = tokens_[id];
            const bool bracketed = t.size() >= 2 && t.front() == '[' && t.back() == ']';
            if (!present_[id]) v.tokens.push_back("[PAD" + std::to_string(id) + "]"), v.types.push_back(5);
            else if (bracketed || special.count(int64_t(id))) v.tokens.push_back(t), v.types.push_back(special.count(int64_t(id)) ? 3 : 1);
            else if (t.compare(0, prefix_.size(), prefix_) == 0 && t.size() > prefix_.size()) v.tokens.push_back(t.substr(prefix_.size())), v.types.push_back(1);
            else v.tokens.push_back("\xe2\x96\x81" + t), v.types.push_back(1);
        }
        if (int64_t(v.types.size()) > unk_ && unk_ >= 0) v.types[size_t(unk_)] = 2;
        return v;
    }

private:
    static inline const std::vector<std::pair<std::string, std::string>> kCleanup = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};

    void check_id(int64_t id) const {
        if (id < 0 || id >= int64_t(tokens_.size()) || !present_[id])
            throw Error("wordpiece tokenizer: token id " + std::to_string(id) + " is not in the vocabulary (0 .. " +
                        std::to_string(int64_t(tokens_.size()) - 1) + ")");
    }

    std::u32string normalize(std::string_view text) const {
        const bool strip = options_.strip_accents.value_or(options_.lowercase);
        std::u32string out, tmp;
        out.reserve(text.size());
        for (size_t i = 0; i < text.size();) {
            const unicode::Utf8Step s = unicode::next_utf8(text, i);
            i += s.len;
            char32_t c = s.cp;  // malformed bytes arrive as U+FFFD
            if (options_.clean_text) {
                if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
                if (is_bert_whitespace(c)) c = U' ';
            }
            if (options_.split_chinese_chars && is_cjk(c)) {
                out += U' ';
                out += c;
                out += U' ';
                continue;
            }
            tmp.clear();
            if (strip) {
                std::u32string decomposed;
                unicode::append_decomposition(c, decomposed);
                for (char32_t d : decomposed)
                    if (!unicode::is_nonspacing_mark(d)) tmp += d;
            } else {
                tmp += c;
            }
            if (options_.lowercase)
                for (char32_t d : tmp) unicode::append_lower(d, out);
            else
                out += tmp;
        }
        return out;
    }

    // BertPreTokenizer: whitespace separates words; each punctuation character is a word.
    static std::vector<std::u32string> split_words(const std::u32string& text) {
        std::vector<std::u32string> words;
        std::u32string word;
        for (char32_t c : text) {
            if (is_bert_whitespace(c) || is_bert_punctuation(c)) {
                if (!word.empty()) words.push_back(std::move(word));
                word.clear();
                if (!is_bert_whitespace(c)) words.push_back(std::u32string(1, c));
            } else {
                word += c;
            }
        }
        if (!word.empty()) words.push_back(std::move(word));
        return words;
    }

    // Greedy longest-match-first: at each start, the longest vocabulary piece (with "##" after
    // the first); a start with no match makes the whole word [UNK].
    void encode_word(const std::u32string& word, std::vector<int64_t>& out) const {
        if (int64_t(word.size()) > options_.max_input_chars_per_word) {
            out.push_back(unk_);
            return;
        }
        std::string utf8;
        std::vector<size_t> at;  // byte offset of each character, and the end
        for (char32_t c : word) {
            at.push_back(utf8.size());
            unicode::append_utf8(utf8, c);
        }
        at.push_back(utf8.size());
        const size_t n = word.size(), before = out.size();
        std::string key;
        for (size_t start = 0; start < n;) {
            int64_t found = -1;
            size_t end = n;
            for (; end > start; --end) {
                key.assign(start > 0 ? prefix_ : std::string());
                key.append(utf8, at[start], at[end] - at[start]);
                if (const auto it = ids_.find(key); it != ids_.end()) {
                    found = it->second;
                    break;
                }
            }
            if (found < 0) {
                out.resize(before);
                out.push_back(unk_);
                return;
            }
            out.push_back(found);
            start = end;
        }
    }

    WordPieceOptions options_;
    std::string prefix_;
    Template post_;
    std::vector<std::string> tokens_;
    std::vector<bool> present_;
    std::unordered_map<std::string, int64_t> ids_;
    std::vector<SpecialToken> specials_, always_added_;
    std::unordered_set<int64_t> special_ids_;
    int64_t unk_ = 0;
    std::optional<int64_t> pad_;
};

}  // namespace

std::unique_ptr<Tokenizer> parse_wordpiece_vocab(std::string_view vocab_txt, const WordPieceOptions& options,
                                                 const std::string& origin) {
    WordPiece::Source src;
    src.origin = origin;
    src.options = options;
    size_t pos = 0;
    int64_t id = 0;
    while (pos < vocab_txt.size()) {  // one token a line; the id is the line number from 0
        size_t end = vocab_txt.find('\n', pos);
        if (end == std::string_view::npos) end = vocab_txt.size();
        std::string_view line = vocab_txt.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        src.vocab.emplace_back(std::string(line), id++);
        pos = end + 1;
    }
    if (src.vocab.empty()) bad_file(origin, "the vocabulary is empty");
    for (size_t i = 0; i < vocab_txt.size();) {  // tokens are text: refuse binary junk early
        const unicode::Utf8Step s = unicode::next_utf8(vocab_txt, i);
        if (!s.valid) bad_file(origin, "byte " + std::to_string(i) + " is not UTF-8 (a vocab.txt is text)");
        i += s.len;
    }
    std::unordered_map<std::string, int64_t> ids;
    for (const auto& [text, i] : src.vocab) ids[text] = i;
    for (const char* name : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
        if (const auto it = ids.find(name); it != ids.end()) {
            src.added.push_back({name, it->second});
            src.added_special.push_back(true);
        }
    if (ids.count("[CLS]")) src.post.before = {ids["[CLS]"]};
    if (ids.count("[SEP]")) src.post.after = {ids["[SEP]"]};
    return std::make_unique<WordPiece>(src);
}

// tokenizer.json with "model": {"type": "WordPiece"} (called from parse_hf_tokenizer_json).
std::unique_ptr<Tokenizer> parse_hf_wordpiece(const json& j, const std::string& origin) {
    WordPiece::Source src;
    src.origin = origin;
    const json& model = j["model"];
    if (!model.contains("vocab") || !model["vocab"].is_object()) bad_file(origin, "model.vocab is not an object of token → id");
    for (const auto& [token, id] : model["vocab"].items()) {
        if (!id.is_number_integer()) bad_file(origin, "model.vocab: the id of " + quote_token(token) + " is not an integer");
        src.vocab.emplace_back(token, id.get<int64_t>());
    }
    if (src.vocab.empty()) bad_file(origin, "model.vocab is empty");
    if (model.contains("unk_token") && model["unk_token"].is_string()) src.unk = model["unk_token"];
    if (model.contains("continuing_subword_prefix") && model["continuing_subword_prefix"].is_string())
        src.prefix = model["continuing_subword_prefix"];
    if (model.contains("max_input_chars_per_word") && model["max_input_chars_per_word"].is_number_integer())
        src.options.max_input_chars_per_word = int(std::clamp<int64_t>(model["max_input_chars_per_word"].get<int64_t>(), 0, INT32_MAX));

    const json& norm = j.contains("normalizer") ? j["normalizer"] : json();
    if (norm.is_null()) {  // no normalizer: text as it is
        src.options.lowercase = src.options.clean_text = src.options.split_chinese_chars = false;
        src.options.strip_accents = false;
    } else if (norm.is_object() && norm.value("type", "") == "BertNormalizer") {
        const auto flag = [&](const char* key, bool fallback) {
            return norm.contains(key) && norm[key].is_boolean() ? norm[key].get<bool>() : fallback;
        };
        src.options.clean_text = flag("clean_text", true);
        src.options.split_chinese_chars = flag("handle_chinese_chars", true);
        src.options.lowercase = flag("lowercase", true);
        if (norm.contains("strip_accents") && norm["strip_accents"].is_boolean()) src.options.strip_accents = norm["strip_accents"].get<bool>();
    } else {
        bad_file(origin, "WordPiece with normalizer " + (norm.is_object() && norm.contains("type") ? norm["type"].dump() : norm.dump()) +
                             " is not supported (BERT's is BertNormalizer)");
    }
    const json& pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json();
    if (!pre.is_object() || pre.value("type", "") != "BertPreTokenizer")
        bad_file(origin, "WordPiece needs pre_tokenizer BertPreTokenizer; found " +
                             (pre.is_object() && pre.contains("type") ? pre["type"].dump() : pre.dump()));

    read_added_tokens(j, origin, src.added, src.added_special);
    src.post = read_post_processor(j, origin, src.vocab, src.added);
    return std::make_unique<WordPiece>(src);
}

}  // namespace attend::tokenizers
