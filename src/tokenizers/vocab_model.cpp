// tokenizers/vocab_model.cpp — the (token, id) table BPE and WordPiece models share
// (tokenizers/pipeline_parts.hpp, VocabModel).
#include <algorithm>
#include <climits>

#include "tokenizers/common.hpp"
#include "tokenizers/pipeline_parts.hpp"

namespace attend::tokenizers {

VocabModel::VocabModel(const std::vector<std::pair<std::string, int64_t>>& vocab, const std::string& origin) {
    int64_t max_id = -1;
    for (const auto& [text, id] : vocab) {
        if (id < 0 || id > INT32_MAX) bad_file(origin, "model.vocab token " + quote_token(text) + " has id " + std::to_string(id));
        max_id = std::max(max_id, id);
    }
    check_id_range(max_id, vocab.size(), origin);
    tokens_.assign(size_t(max_id + 1), std::string());
    present_.assign(size_t(max_id + 1), false);
    for (const auto& [text, id] : vocab) {
        tokens_[size_t(id)] = text;
        present_[size_t(id)] = true;
        ids_[text] = id;
    }
}

std::optional<int64_t> VocabModel::token_to_id(std::string_view token) const {
    const auto it = ids_.find(std::string(token));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
}

const std::string* VocabModel::id_to_token(int64_t id) const {
    return id >= 0 && id < int64_t(tokens_.size()) && present_[size_t(id)] ? &tokens_[size_t(id)] : nullptr;
}

}  // namespace attend::tokenizers
