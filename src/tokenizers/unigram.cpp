// tokenizers/unigram.cpp — tokenizer.json's Unigram model (SentencePiece's unigram language
// model; Hugging Face's models/unigram): the segmentation of each pre-token whose pieces' log
// probabilities (scores) sum highest, found by Viterbi over the lattice of vocabulary pieces
// starting at each character. A character no piece covers is an unknown node scored
// min_score - 10 (Hugging Face's kUnkPenalty); runs of unknowns fuse into one unk_id, or with
// byte_fallback become their <0xXX> byte pieces.
#include <cmath>
#include <cstdio>
#include <limits>
#include <unordered_map>

#include "attend/error.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/pipeline_parts.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

class Unigram final : public Model {
public:
    Unigram(std::vector<std::pair<std::string, double>> vocab, std::optional<int64_t> unk, bool byte_fallback,
            const std::string& origin)
        : unk_(unk), byte_fallback_(byte_fallback) {
        double min_score = std::numeric_limits<double>::infinity();
        for (size_t id = 0; id < vocab.size(); ++id) {
            const auto& [piece, score] = vocab[id];
            if (!std::isfinite(score)) bad_file(origin, "model Unigram piece " + quote_token(piece) + " has a score that is not finite");
            tokens_.push_back(piece);
            scores_.push_back(score);
            ids_.emplace(piece, int64_t(id));  // a repeated piece keeps its first id
            max_len_ = std::max(max_len_, piece.size());
            min_score = std::min(min_score, score);
        }
        if (unk_ && (*unk_ < 0 || *unk_ >= int64_t(tokens_.size())))
            bad_file(origin, "model Unigram \"unk_id\" " + std::to_string(*unk_) + " is outside the vocabulary");
        unk_score_ = (tokens_.empty() ? 0.0 : min_score) - 10.0;
    }

    void tokenize(std::string_view word, std::vector<int64_t>& out) const override {
        if (word.empty()) return;
        const size_t n = word.size();
        // best[e]: the best score of a segmentation of word[0, e); from[e]: where its last piece
        // starts, piece[e]: its id (-1: unknown). Only character boundaries are ever reached.
        std::vector<double> best(n + 1, -std::numeric_limits<double>::infinity());
        std::vector<size_t> from(n + 1, 0);
        std::vector<int64_t> piece(n + 1, -1);
        best[0] = 0;
        std::string s;
        for (size_t b = 0; b < n;) {
            const unicode::Utf8Step step = unicode::next_utf8(word, b);
            if (best[b] != -std::numeric_limits<double>::infinity()) {
                bool single = false;
                for (size_t len = step.len; b + len <= n && len <= max_len_; ++len) {
                    const auto it = ids_.find(std::string(word.substr(b, len)));
                    if (it == ids_.end()) continue;
                    if (len == step.len) single = true;
                    const double score = best[b] + scores_[it->second];
                    if (score > best[b + len]) {
                        best[b + len] = score, from[b + len] = b, piece[b + len] = it->second;
                    }
                }
                if (!single) {  // the character alone, as an unknown
                    const double score = best[b] + unk_score_;
                    if (score > best[b + step.len]) best[b + step.len] = score, from[b + step.len] = b, piece[b + step.len] = -1;
                }
            }
            b += step.len;
        }
        std::vector<std::pair<size_t, int64_t>> path;  // (start, id)
        for (size_t e = n; e > 0; e = from[e]) path.emplace_back(from[e], piece[e]);
        std::reverse(path.begin(), path.end());
        for (size_t k = 0; k < path.size(); ++k) {
            if (path[k].second >= 0) {
                out.push_back(path[k].second);
                continue;
            }
            size_t end = k + 1 < path.size() ? path[k + 1].first : n;
            size_t last = k;
            while (last + 1 < path.size() && path[last + 1].second < 0) {  // fuse a run of unknowns
                ++last;
                end = last + 1 < path.size() ? path[last + 1].first : n;
            }
            const std::string_view unknown = word.substr(path[k].first, end - path[k].first);
            emit_unknown(unknown, out);
            k = last;
        }
    }

    std::optional<int64_t> token_to_id(std::string_view token) const override {
        const auto it = ids_.find(std::string(token));
        if (it == ids_.end()) return std::nullopt;
        return it->second;
    }
    const std::string* id_to_token(int64_t id) const override {
        return id >= 0 && id < int64_t(tokens_.size()) ? &tokens_[id] : nullptr;
    }
    int64_t size() const override { return int64_t(tokens_.size()); }

private:
    void emit_unknown(std::string_view text, std::vector<int64_t>& out) const {
        if (byte_fallback_) {
            std::vector<int64_t> bytes;
            for (unsigned char b : text) {
                char name[8];
                std::snprintf(name, sizeof name, "<0x%02X>", unsigned(b));
                const auto it = ids_.find(name);
                if (it == ids_.end()) break;
                bytes.push_back(it->second);
            }
            if (bytes.size() == text.size()) {
                out.insert(out.end(), bytes.begin(), bytes.end());
                return;
            }
        }
        if (!unk_) throw Error("Unigram model: " + quote_token(text) + " is not in the vocabulary, and the model has no unk_id");
        out.push_back(*unk_);
    }

    std::vector<std::string> tokens_;
    std::vector<double> scores_;
    std::unordered_map<std::string, int64_t> ids_;
    size_t max_len_ = 0;
    std::optional<int64_t> unk_;
    double unk_score_ = -10;
    bool byte_fallback_;
};

}  // namespace

std::unique_ptr<Model> read_unigram_model(const json& j, const std::string& origin) {
    const std::string what = "model Unigram";
    if (!j.contains("vocab") || !j["vocab"].is_array()) bad_file(origin, what + " has no \"vocab\" list of [piece, score]");
    std::vector<std::pair<std::string, double>> vocab;
    for (const json& e : j["vocab"]) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
            bad_file(origin, what + " vocab entry " + std::to_string(vocab.size()) + " is not [piece, score]");
        vocab.emplace_back(e[0].get<std::string>(), e[1].get<double>());
    }
    std::optional<int64_t> unk;
    if (j.contains("unk_id") && !j["unk_id"].is_null()) {
        if (!j["unk_id"].is_number_integer()) bad_file(origin, what + " \"unk_id\" is not an integer");
        unk = j["unk_id"].get<int64_t>();
    }
    bool byte_fallback = false;
    if (j.contains("byte_fallback") && !j["byte_fallback"].is_null()) {
        if (!j["byte_fallback"].is_boolean()) bad_file(origin, what + " \"byte_fallback\" is not true or false");
        byte_fallback = j["byte_fallback"].get<bool>();
    }
    return std::make_unique<Unigram>(std::move(vocab), unk, byte_fallback, origin);
}

}  // namespace attend::tokenizers
