// tokenizers/pipeline.cpp — the general tokenizer (pipeline.hpp): Hugging Face's encode and
// decode over the components of pipeline_parts.hpp.
//
//   encode: split the text on added tokens (longest first at each place; lstrip/rstrip take the
//           whitespace beside a match) → each other segment: normalizer → pre-tokenizer →
//           model per piece → ids; with add_special the post-processor's ids around them.
//   decode: ids → token strings (added tokens as written; special ones dropped when asked) →
//           decoder → joined (no decoder: joined with spaces, as Hugging Face does).
#include <algorithm>
#include <climits>
#include <cstdio>
#include <unordered_map>

#include "attend/error.hpp"
#include "tokenizers/pipeline.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

bool is_word_char(char32_t c) { return c == U'_' || unicode::is_letter(c) || unicode::is_number(c); }

class Pipeline final : public Tokenizer {
public:
    explicit Pipeline(PipelineSpec spec) : s_(std::move(spec)) {
        source_ = s_.origin;
        if (!s_.model) bad_file(s_.origin, "has no model");
        size_ = s_.model->size();
        for (const AddedToken& a : s_.added) {
            if (a.id < 0 || a.id > INT32_MAX) bad_file(s_.origin, "added token " + quote_token(a.content) + " has id " + std::to_string(a.id));
            if (a.content.empty()) bad_file(s_.origin, "added token " + std::to_string(a.id) + " is empty");
            size_ = std::max(size_, a.id + 1);
        }
        check_id_range(size_ - 1, size_t(s_.model->size()) + s_.added.size(), s_.origin);
        added_by_id_.assign(size_t(size_), -1);
        for (size_t k = 0; k < s_.added.size(); ++k) {
            added_by_id_[s_.added[k].id] = int32_t(k);
            added_ids_.emplace(s_.added[k].content, s_.added[k].id);
        }
        // Longest first, so that at one place "<|im_start|>" wins over "<|im".
        order_.resize(s_.added.size());
        for (size_t k = 0; k < order_.size(); ++k) order_[k] = k;
        std::stable_sort(order_.begin(), order_.end(),
                         [&](size_t a, size_t b) { return s_.added[a].content.size() > s_.added[b].content.size(); });
        for (size_t k : order_) first_bytes_[uint8_t(s_.added[k].content[0])] = true;
        for (int64_t id = 0; id < size_; ++id)
            if (has_token(id)) labels_.emplace(token_text(id), id);
    }

    using Tokenizer::encode;
    std::vector<int64_t> encode(std::string_view text, SpecialTokenMode specials) const override {
        const bool add_special = specials == SpecialTokenMode::add, parse = specials != SpecialTokenMode::as_text;
        std::vector<int64_t> out(add_special ? s_.post.before : std::vector<int64_t>{});
        size_t at = 0;  // the start of the text not yet encoded
        for (size_t i = 0; i < text.size();) {
            const std::optional<Match> m = match_at(text, i, at, parse);
            if (!m) {
                ++i;
                continue;
            }
            encode_text(text.substr(at, m->begin - at), at == 0, out);
            out.push_back(m->id);
            at = i = m->end;
        }
        encode_text(text.substr(at), at == 0, out);
        if (add_special) out.insert(out.end(), s_.post.after.begin(), s_.post.after.end());
        return out;
    }

    std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
        // Non-special added tokens (GGUF's user-defined ones) are text as written, not model
        // tokens: they go around the decoder, as llama.cpp and recent Hugging Face decode them
        // (DeepSeek's added "ü" would otherwise be ByteLevel's byte 0xFC).
        std::vector<std::string> tokens;
        std::string out;
        for (int64_t id : ids) {
            check_id(id);
            const int32_t k = added_by_id_[id];
            if (k >= 0 && !s_.added[k].special) {
                out += join(std::move(tokens));
                tokens.clear();
                out += s_.added[k].content;
                continue;
            }
            if (k >= 0) {
                if (skip_special) continue;
                tokens.push_back(s_.added[k].content);
            } else {
                tokens.push_back(*s_.model->id_to_token(id));
            }
        }
        return out + join(std::move(tokens));
    }

    std::string token_text(int64_t id) const override {
        check_id(id);
        if (const int32_t k = added_by_id_[id]; k >= 0) return s_.added[k].content;
        const std::string& raw = *s_.model->id_to_token(id);
        if (!s_.decoder) return raw;
        std::vector<std::string> one{raw};
        s_.decoder->decode(one);
        std::string bytes;
        for (const std::string& t : one) bytes += t;
        // Whole characters as they are; the bytes of a partial character as <0xXX>.
        std::string label;
        for (size_t i = 0; i < bytes.size();) {
            const unicode::Utf8Step st = unicode::next_utf8(bytes, i);
            if (st.valid) {
                label.append(bytes, i, st.len);
            } else {
                char buf[8];
                std::snprintf(buf, sizeof buf, "<0x%02X>", unsigned(uint8_t(bytes[i])));
                label += buf;
            }
            i += st.len;
        }
        return label.empty() ? raw : label;
    }

    std::optional<int64_t> token_id(std::string_view token) const override {
        if (const auto it = added_ids_.find(std::string(token)); it != added_ids_.end()) return it->second;
        if (const auto id = s_.model->token_to_id(token)) return id;
        if (const auto it = labels_.find(std::string(token)); it != labels_.end()) return it->second;
        return std::nullopt;
    }

    int64_t vocab_size() const override { return size_; }
    std::optional<int64_t> bos_id() const override { return s_.bos; }
    std::optional<int64_t> eos_id() const override { return s_.eos; }
    std::optional<int64_t> pad_id() const override { return s_.pad; }
    std::optional<int64_t> unk_id() const override { return s_.unk; }
    std::string_view kind() const override { return s_.kind; }

    // A GGUF "gpt2" vocabulary restated (attend convert --to gguf); other pipelines have no GGUF form.
    std::optional<TokenizerVocabulary> vocabulary() const override {
        if (s_.gguf_pre.empty()) return std::nullopt;
        TokenizerVocabulary v;
        v.model = "gpt2";
        v.pre = s_.gguf_pre;
        v.merges = s_.model->merge_list();
        for (int64_t id = 0; id < size_; ++id) {
            const int32_t k = added_by_id_[id];
            const std::string* t = s_.model->id_to_token(id);
            v.tokens.push_back(k >= 0 ? s_.added[k].content : t ? *t : "[UNUSED_" + std::to_string(id) + "]");
            v.types.push_back(k >= 0 ? (s_.added[k].special ? 3 : 4) : t ? 1 : 5);
        }
        return v;
    }

    void set_special_ids(std::optional<int64_t> bos, std::optional<int64_t> eos, std::optional<int64_t> pad,
                         std::optional<int64_t> unk) {
        s_.bos = bos, s_.eos = eos, s_.pad = pad, s_.unk = unk;
    }

private:
    struct Match {
        size_t begin, end;  // the bytes the match takes, whitespace from lstrip/rstrip included
        int64_t id;
    };

    bool has_token(int64_t id) const { return added_by_id_[id] >= 0 || s_.model->id_to_token(id) != nullptr; }

    void check_id(int64_t id) const {
        if (id < 0 || id >= size_ || !has_token(id))
            throw Error(std::string(s_.kind) + " tokenizer: token id " + std::to_string(id) + " is not in the vocabulary (0 .. " +
                        std::to_string(size_ - 1) + ")");
    }

    // The longest added token starting at text[i] that may match here. floor: where the
    // current segment starts (lstrip takes whitespace back to it, no further).
    std::optional<Match> match_at(std::string_view text, size_t i, size_t floor, bool parse_special) const {
        if (!first_bytes_[uint8_t(text[i])]) return std::nullopt;
        for (size_t k : order_) {
            const AddedToken& a = s_.added[k];
            if (a.special && !parse_special) continue;
            if (text.compare(i, a.content.size(), a.content) != 0) continue;
            size_t b = i, e = i + a.content.size();
            if (a.single_word) {
                const bool word_before = b > 0 && is_word_char(char_before(text, b));
                const bool word_after = e < text.size() && is_word_char(unicode::next_utf8(text, e).cp);
                if (word_before || word_after) continue;
            }
            if (a.lstrip)
                while (b > floor && unicode::is_white_space(char_before(text, b))) b -= utf8_len_before(text, b);
            if (a.rstrip)
                while (e < text.size()) {
                    const unicode::Utf8Step s = unicode::next_utf8(text, e);
                    if (!s.valid || !unicode::is_white_space(s.cp)) break;
                    e += s.len;
                }
            return Match{b, e, a.id};
        }
        return std::nullopt;
    }

    static size_t utf8_len_before(std::string_view text, size_t at) {
        size_t k = at - 1;
        while (k > 0 && at - k < 4 && (uint8_t(text[k]) & 0xC0) == 0x80) --k;
        const unicode::Utf8Step s = unicode::next_utf8(text, k);
        return k + s.len == at ? s.len : 1;
    }
    static char32_t char_before(std::string_view text, size_t at) {
        const size_t len = utf8_len_before(text, at);
        return unicode::next_utf8(text, at - len).cp;
    }

    void encode_text(std::string_view text, bool at_start, std::vector<int64_t>& out) const {
        if (text.empty()) return;
        std::string normalized = s_.normalizer ? s_.normalizer->normalize(std::string(text)) : std::string(text);
        std::vector<Piece> pieces{{std::move(normalized), at_start}};
        if (s_.pre_tokenizer) s_.pre_tokenizer->split(pieces);
        for (const Piece& p : pieces) s_.model->tokenize(p.text, out);
    }

    std::string join(std::vector<std::string> tokens) const {
        std::string out;
        if (s_.decoder) {
            s_.decoder->decode(tokens);
            for (const std::string& t : tokens) out += t;
            return out;
        }
        for (size_t k = 0; k < tokens.size(); ++k) out += (k ? " " : "") + tokens[k];
        return out;
    }

    PipelineSpec s_;
    int64_t size_ = 0;
    std::vector<int32_t> added_by_id_;  // id → index in s_.added, or -1
    std::unordered_map<std::string, int64_t> added_ids_, labels_;
    std::vector<size_t> order_;  // added tokens, longest first
    bool first_bytes_[256] = {};
};

// The first of names that the vocabulary or the added tokens have.
std::optional<int64_t> first_known(const Tokenizer& t, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (const auto id = t.token_id(n)) return id;
    return std::nullopt;
}

}  // namespace

std::unique_ptr<Tokenizer> make_pipeline(PipelineSpec spec) { return std::make_unique<Pipeline>(std::move(spec)); }

std::unique_ptr<Tokenizer> read_pipeline(const json& j, const std::string& origin) {
    PipelineSpec spec;
    spec.origin = origin;
    const json none;
    const auto part = [&](const char* key) -> const json& { return j.contains(key) ? j[key] : none; };
    const json& model = j["model"];
    std::string type = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>() : "";
    if (type.empty()) type = model.contains("merges") ? "BPE" : model.contains("continuing_subword_prefix") ? "WordPiece" : "";
    if (type == "BPE") spec.model = read_bpe_model(model, origin);
    else if (type == "WordPiece") spec.model = read_wordpiece_model(model, origin);
    else if (type == "Unigram") spec.model = read_unigram_model(model, origin);
    else
        bad_file(origin, "model type " + quote_token(type.empty() ? "(none)" : type) +
                             " is not supported (attend reads BPE, WordPiece and Unigram)");
    spec.normalizer = read_normalizer(part("normalizer"), origin);
    spec.pre_tokenizer = read_pre_tokenizer(part("pre_tokenizer"), origin);
    spec.decoder = read_decoder(part("decoder"), origin);
    const json& added = part("added_tokens");
    if (!added.is_null() && !added.is_array()) bad_file(origin, "added_tokens is not a list");
    if (added.is_array())
        for (const json& a : added) {
            if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") || !a["content"].is_string())
                bad_file(origin, "an added_tokens entry lacks an integer \"id\" or a \"content\" string");
            const char* entry = "an added_tokens entry's";
            spec.added.push_back({a["content"].get<std::string>(), a["id"].get<int64_t>(), flag(a, "special", false, origin, entry),
                                  flag(a, "lstrip", false, origin, entry), flag(a, "rstrip", false, origin, entry),
                                  flag(a, "normalized", true, origin, entry), flag(a, "single_word", false, origin, entry)});
        }
    std::unordered_map<std::string, int64_t> names;
    for (const AddedToken& a : spec.added) names[a.content] = a.id;
    spec.post = read_post_processor(part("post_processor"), origin, [&](const std::string& name) -> std::optional<int64_t> {
        if (const auto it = names.find(name); it != names.end()) return it->second;
        return spec.model->token_to_id(name);
    });
    // tokenizer.json names no BOS/EOS; the template's first/last special token, else the usual names.
    const std::optional<int64_t> tmpl_bos = spec.post.before.empty() ? std::nullopt : std::optional<int64_t>(spec.post.before.front());
    const std::optional<int64_t> tmpl_eos = spec.post.after.empty() ? std::nullopt : std::optional<int64_t>(spec.post.after.back());
    auto tok = std::make_unique<Pipeline>(std::move(spec));
    tok->set_special_ids(tmpl_bos ? tmpl_bos : first_known(*tok, {"<s>", "<|begin_of_text|>", "<bos>", "[CLS]", "<|endoftext|>"}),
                         tmpl_eos ? tmpl_eos : first_known(*tok, {"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>", "[SEP]"}),
                         first_known(*tok, {"<pad>", "[PAD]", "<|padding|>"}), first_known(*tok, {"<unk>", "[UNK]"}));
    return tok;
}

}  // namespace attend::tokenizers
