// generate/text_model.cpp — a model and its tokenizer together (generate/text_model.hpp).
#include "attend/generate/text_model.hpp"

#include "attend/error.hpp"

namespace attend {

void check_tokenizer_fits(const Tokenizer& tokenizer, const std::string& tokenizer_path, int64_t model_vocab,
                          const std::string& model_path) {
    const int64_t n = tokenizer.vocab_size();
    if (n > model_vocab)
        throw Error(tokenizer_path + ": a vocabulary of " + std::to_string(n) + " tokens does not fit the model " +
                    model_path + ", which has embeddings for " + std::to_string(model_vocab) +
                    " (is this the model's own tokenizer?)");
}

TextModel load_text_model(const std::string& model_path, const std::string& tokenizer_path, WeightType weights) {
    TextModel out{load_model(model_path), nullptr, tokenizer_path};
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
