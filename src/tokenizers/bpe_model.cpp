// tokenizers/bpe_model.cpp — tokenizer.json's BPE model, as Hugging Face's models/bpe: each
// pre-token split into characters (continuing_subword_prefix on all but the first,
// end_of_word_suffix on the last), a character missing from the vocabulary becomes its <0xXX>
// byte tokens (byte_fallback) or unk_token (fused when fuse_unk), then merges by rank, the
// lowest rank and then the leftmost pair first (merge.hpp). ignore_merges: a pre-token that is a
// token of its own is taken whole. dropout must be off (null or 0): attend's encode is
// deterministic.
#include <climits>
#include <cstdio>
#include <unordered_map>

#include "attend/error.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/merge.hpp"
#include "tokenizers/pipeline_parts.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

class BpeModel final : public VocabModel {
public:
    BpeModel(const BpeModelSpec& spec, const std::string& origin)
        : VocabModel(spec.vocab, origin), prefix_(spec.continuing_subword_prefix), suffix_(spec.end_of_word_suffix),
          fuse_unk_(spec.fuse_unk), byte_fallback_(spec.byte_fallback), ignore_merges_(spec.ignore_merges) {
        if (spec.unk) {
            const auto it = ids().find(*spec.unk);
            if (it == ids().end()) bad_file(origin, "model unk_token " + quote_token(*spec.unk) + " is not in the vocabulary");
            unk_ = it->second;
        }
        for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
            const auto& [a, b] = spec.merges[rank];
            const std::string where = "merge " + std::to_string(rank) + " " + quote_token(a + " " + b);
            const auto ia = ids().find(a), ib = ids().find(b);
            if (ia == ids().end()) bad_file(origin, where + " refers to " + quote_token(a) + ", which is not in the vocabulary");
            if (ib == ids().end()) bad_file(origin, where + " refers to " + quote_token(b) + ", which is not in the vocabulary");
            const bool prefixed = !prefix_.empty() && b.compare(0, prefix_.size(), prefix_) == 0;
            const std::string joined = a + (prefixed ? b.substr(prefix_.size()) : b);
            const auto iab = ids().find(joined);
            if (iab == ids().end()) bad_file(origin, where + " makes " + quote_token(joined) + ", which is not in the vocabulary");
            merges_.emplace(key(ia->second, ib->second), std::pair<int32_t, int32_t>{int32_t(rank), iab->second});
            merge_list_.push_back(a + " " + b);
        }
    }

    void tokenize(std::string_view word, std::vector<int64_t>& out) const override {
        if (word.empty()) return;
        if (ignore_merges_)
            if (const auto it = ids().find(std::string(word)); it != ids().end()) {
                out.push_back(it->second);
                return;
            }
        std::vector<int32_t> symbols;
        bool last_unk = false;
        std::string s;
        for (size_t i = 0; i < word.size();) {
            const unicode::Utf8Step step = unicode::next_utf8(word, i);
            const bool first = i == 0, last = i + step.len == word.size();
            s.assign(first ? "" : prefix_).append(word.substr(i, step.len)).append(last ? suffix_ : "");
            i += step.len;
            if (const auto it = ids().find(s); it != ids().end()) {
                symbols.push_back(it->second);
                last_unk = false;
                continue;
            }
            if (byte_fallback_) {
                std::vector<int32_t> bytes;
                for (unsigned char b : word.substr(i - step.len, step.len)) {
                    char name[8];
                    std::snprintf(name, sizeof name, "<0x%02X>", unsigned(b));
                    const auto it = ids().find(name);
                    if (it == ids().end()) break;
                    bytes.push_back(it->second);
                }
                if (bytes.size() == step.len) {
                    symbols.insert(symbols.end(), bytes.begin(), bytes.end());
                    last_unk = false;
                    continue;
                }
            }
            if (!unk_)
                throw Error("BPE model: " + quote_token(s) + " is not in the vocabulary, and the model has no unk_token");
            if (!(fuse_unk_ && last_unk)) symbols.push_back(*unk_);
            last_unk = true;
        }
        merge_symbols(symbols, [&](int32_t a, int32_t b) -> std::optional<Merge> {
            const auto it = merges_.find(key(a, b));
            if (it == merges_.end()) return std::nullopt;
            return Merge{-double(it->second.first), it->second.second};
        });
        out.insert(out.end(), symbols.begin(), symbols.end());
    }

    std::vector<std::string> merge_list() const override { return merge_list_; }

private:
    static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (a, b) → (rank, merged id)
    std::vector<std::string> merge_list_;
    std::optional<int32_t> unk_;
    std::string prefix_, suffix_;
    bool fuse_unk_, byte_fallback_, ignore_merges_;
};

}  // namespace

std::vector<std::pair<std::string, int64_t>> read_vocab_object(const json& j, const std::string& origin, const std::string& what) {
    if (!j.is_object()) bad_file(origin, what + " is not a {\"token\": id} object");
    std::vector<std::pair<std::string, int64_t>> vocab;
    vocab.reserve(j.size());
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it.value().is_number_integer()) bad_file(origin, what + " token " + quote_token(it.key()) + " has no integer id");
        vocab.emplace_back(it.key(), it.value().get<int64_t>());
    }
    return vocab;
}

std::optional<std::string> optional_string(const json& j, const char* key, const std::string& origin, const std::string& what) {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    if (!j[key].is_string()) bad_file(origin, what + " \"" + key + "\" is not a string");
    return j[key].get<std::string>();
}

std::unique_ptr<Model> make_bpe_model(const BpeModelSpec& spec, const std::string& origin) {
    return std::make_unique<BpeModel>(spec, origin);
}

std::unique_ptr<Model> read_bpe_model(const json& j, const std::string& origin) {
    const std::string what = "model BPE";
    if (j.contains("dropout") && !j["dropout"].is_null() && !(j["dropout"].is_number() && j["dropout"].get<double>() == 0.0))
        bad_file(origin, what + " \"dropout\" is set; attend encodes deterministically (dropout must be null or 0)");
    BpeModelSpec spec;
    if (!j.contains("vocab")) bad_file(origin, what + " has no \"vocab\"");
    spec.vocab = read_vocab_object(j["vocab"], origin, "model.vocab");
    if (j.contains("merges") && !j["merges"].is_null()) {
        if (!j["merges"].is_array()) bad_file(origin, what + " \"merges\" is not a list");
        size_t k = 0;
        for (const json& m : j["merges"]) {
            // "a b" (the older form) or ["a", "b"] (tokenizers ≥ 0.20, where tokens may hold spaces).
            if (m.is_string()) {
                const std::string s = m.get<std::string>();
                const size_t sp = s.find(' ');
                if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos)
                    bad_file(origin, "merge " + std::to_string(k) + " " + quote_token(s) + " is not two tokens separated by one space");
                spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
            } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
                spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
            } else {
                bad_file(origin, "merge " + std::to_string(k) + " is neither \"a b\" nor [\"a\", \"b\"]");
            }
            ++k;
        }
    }
    spec.unk = optional_string(j, "unk_token", origin, what);
    spec.continuing_subword_prefix = optional_string(j, "continuing_subword_prefix", origin, what).value_or("");
    spec.end_of_word_suffix = optional_string(j, "end_of_word_suffix", origin, what).value_or("");
    spec.fuse_unk = flag(j, "fuse_unk", false, origin, "model BPE");
    spec.byte_fallback = flag(j, "byte_fallback", false, origin, "model BPE");
    spec.ignore_merges = flag(j, "ignore_merges", false, origin, "model BPE");
    return make_bpe_model(spec, origin);
}

}  // namespace attend::tokenizers
