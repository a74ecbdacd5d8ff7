// generate/text_model.cpp — a model and its tokenizer together (generate/text_model.hpp).
#include "attend/generate/text_model.hpp"

#include <algorithm>
#include <utility>

#include "attend/error.hpp"

namespace attend {

int64_t vocab_padding_allowed(int64_t tokenizer_vocab) { return std::max<int64_t>(128, tokenizer_vocab / 32); }

void check_tokenizer_fits(const Tokenizer& tokenizer, const std::string& tokenizer_path, int64_t model_vocab,
                          const std::string& model_path) {
    const int64_t n = tokenizer.vocab_size();
    if (n > model_vocab)
        throw Error(tokenizer_path + ": a vocabulary of " + std::to_string(n) + " tokens does not fit the model " +
                    model_path + ", which has embeddings for " + std::to_string(model_vocab) +
                    " (is this the model's own tokenizer?)");
    if (model_vocab - n > vocab_padding_allowed(n))
        throw Error(tokenizer_path + ": a vocabulary of " + std::to_string(n) + " tokens does not fit the model " +
                    model_path + ", which has embeddings for " + std::to_string(model_vocab) + " (more than the " +
                    std::to_string(vocab_padding_allowed(n)) +
                    " ids of padding a checkpoint may add: this is not the model's own tokenizer)");
    const std::pair<const char*, std::optional<int64_t>> specials[] = {
        {"bos", tokenizer.bos_id()}, {"eos", tokenizer.eos_id()}, {"pad", tokenizer.pad_id()}};
    for (const auto& [name, id] : specials)
        if (id && (*id < 0 || *id >= n))
            throw Error(tokenizer_path + ": the " + name + " token id " + std::to_string(*id) +
                        " lies outside its own vocabulary of " + std::to_string(n) + " tokens");
}

TextModel load_text_model(const std::string& model_path, const std::string& tokenizer_path, WeightType weights,
                          const LoadOptions& load) {
    TextModel out{load_model(model_path, load), nullptr, tokenizer_path};
    try {
        out.loaded.model.convert_weights(weights);
    } catch (const Error& e) {  // e.g. int8 asked of a bf16 checkpoint: say which model
        throw Error(model_path + ": " + e.what());
    }
    if (out.tokenizer_path.empty()) out.tokenizer_path = out.loaded.tokenizer_path;
    if (out.tokenizer_path.empty())
        throw Error(model_path +
                    ": no tokenizer beside the model (looked for tokenizer.json, vocab.json, encoder.json, "
                    "vocab.txt, tokenizer.bin, tok*.bin); give one with --tokenizer");
    out.tokenizer = load_tokenizer(out.tokenizer_path);
    check_tokenizer_fits(*out.tokenizer, out.tokenizer_path, out.loaded.config.vocab_size, model_path);
    // The model's own special ids (its config or metadata) must be tokens this tokenizer has.
    const std::pair<const char*, int64_t> declared[] = {
        {"bos", out.loaded.bos_id}, {"eos", out.loaded.eos_id}, {"pad", out.loaded.pad_id}};
    for (const auto& [name, id] : declared)
        if (id >= out.tokenizer->vocab_size())
            throw Error(model_path + ": the model's " + name + " token id " + std::to_string(id) +
                        " lies outside the vocabulary of " + std::to_string(out.tokenizer->vocab_size()) +
                        " tokens of its tokenizer " + out.tokenizer_path);
    return out;
}

std::optional<int64_t> TextModel::bos() const {
    if (auto id = tokenizer->bos_id()) return id;
    if (loaded.bos_id >= 0 && loaded.bos_id < vocab_limit()) return loaded.bos_id;
    return std::nullopt;
}

std::optional<int64_t> TextModel::eos() const {
    if (auto id = tokenizer->eos_id()) return id;
    if (loaded.eos_id >= 0 && loaded.eos_id < vocab_limit()) return loaded.eos_id;
    return std::nullopt;
}

std::vector<int64_t> TextModel::prompt_ids(const std::string& text) const {
    std::vector<int64_t> ids = tokenizer->encode(text, /*add_special=*/true);
    if (ids.empty()) {
        const std::optional<int64_t> start = bos() ? bos() : eos();
        if (!start)
            throw Error(tokenizer_path + ": the prompt is empty and the tokenizer declares no BOS or EOS token to "
                                         "start from; give a --prompt");
        ids.push_back(*start);
    }
    return ids;
}

std::vector<int64_t> TextModel::stop_tokens() const {
    std::vector<int64_t> stop;
    if (auto id = eos()) stop.push_back(*id);
    if (loaded.format == ModelFormat::llama2c)
        if (auto id = bos(); id && (stop.empty() || stop[0] != *id)) stop.push_back(*id);
    return stop;
}

}  // namespace attend
