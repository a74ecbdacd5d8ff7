// tokenizers/wordpiece_model.cpp — tokenizer.json's WordPiece model inside the general pipeline
// (Hugging Face's models/wordpiece): greedy longest match from the left, pieces after the first
// written with continuing_subword_prefix; a word with no match, or longer than
// max_input_chars_per_word characters, is unk_token. (wordpiece.cpp is BERT's whole tokenizer
// for vocab.txt and the BertNormalizer + BertPreTokenizer tokenizer.json; this is the model alone.)
#include <climits>
#include <unordered_map>

#include "attend/error.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/pipeline_parts.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

class WordPieceModel final : public VocabModel {
public:
    WordPieceModel(const std::vector<std::pair<std::string, int64_t>>& vocab, const std::string& unk, std::string prefix,
                   size_t max_chars, const std::string& origin)
        : VocabModel(vocab, origin), prefix_(std::move(prefix)), max_chars_(max_chars) {
        const auto it = ids().find(unk);
        if (it == ids().end()) bad_file(origin, "model WordPiece unk_token " + quote_token(unk) + " is not in the vocabulary");
        unk_ = it->second;
    }

    void tokenize(std::string_view word, std::vector<int64_t>& out) const override {
        if (word.empty()) return;
        std::vector<size_t> bounds;  // character starts, then the end
        for (size_t i = 0; i < word.size(); i += unicode::next_utf8(word, i).len) bounds.push_back(i);
        if (bounds.size() > max_chars_) {
            out.push_back(unk_);
            return;
        }
        bounds.push_back(word.size());
        std::vector<int64_t> pieces;
        std::string s;
        for (size_t start = 0; start + 1 < bounds.size();) {
            std::optional<int64_t> found;
            size_t end = bounds.size() - 1;
            for (; end > start; --end) {
                s.assign(start ? prefix_ : "").append(word.substr(bounds[start], bounds[end] - bounds[start]));
                if (const auto it = ids().find(s); it != ids().end()) {
                    found = it->second;
                    break;
                }
            }
            if (!found) {
                out.push_back(unk_);
                return;
            }
            pieces.push_back(*found);
            start = end;
        }
        out.insert(out.end(), pieces.begin(), pieces.end());
    }


private:
    int64_t unk_ = 0;
    std::string prefix_;
    size_t max_chars_;
};

}  // namespace

std::unique_ptr<Model> read_wordpiece_model(const json& j, const std::string& origin) {
    const std::string what = "model WordPiece";
    if (!j.contains("vocab")) bad_file(origin, what + " has no \"vocab\"");
    size_t max_chars = 100;
    if (j.contains("max_input_chars_per_word")) {
        if (!j["max_input_chars_per_word"].is_number_unsigned()) bad_file(origin, what + " \"max_input_chars_per_word\" is not a count");
        max_chars = j["max_input_chars_per_word"].get<size_t>();
    }
    return std::make_unique<WordPieceModel>(read_vocab_object(j["vocab"], origin, "model.vocab"),
                                            optional_string(j, "unk_token", origin, what).value_or("[UNK]"),
                                            optional_string(j, "continuing_subword_prefix", origin, what).value_or("##"), max_chars,
                                            origin);
}

}  // namespace attend::tokenizers
