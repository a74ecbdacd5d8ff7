// generate/text_model.hpp — a model and its tokenizer, loaded together and checked to fit.
//
//   auto lm = attend::load_text_model("stories260K/stories260K.bin");   // tok512.bin found beside it
//   auto ids = lm.prompt_ids("Once upon a time");                        // BOS first, as Llama wants
//   attend::generate(lm.model(), {ids}, options);
//
// The tokenizer is the one given, or the one io/model_loader.hpp finds beside the model.
// Errors (attend::Error, one line, starting with the file at fault):
//   <model>: no tokenizer beside the model (...)            none given, none found
//   <tokenizer>: a vocabulary of N tokens does not fit ...   the tokenizer has ids the model
//                                                             has no embedding for
//   <tokenizer>: ... more than the N ids of padding ...      the model's vocabulary is much
//                                                             larger: another model's tokenizer
//   <tokenizer>: the bos token id ... outside ...             a special id past the vocabulary
// A model vocabulary somewhat larger than the tokenizer's is accepted — checkpoints pad theirs
// (nanoGPT's GPT-2: 50257 → 50304, Phi-2: 50295 → 51200) — by up to max(128, n/32) ids:
// vocab_limit() says which ids can be decoded. A 512-token tokenizer on a 32000-token model
// is another model's tokenizer, and its output would be garbage.
//
// Implemented in src/generate/text_model.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attend/io/model_loader.hpp"
#include "attend/tokenizers/tokenizer.hpp"

namespace attend {

struct TextModel {
    LoadedModel loaded;
    std::unique_ptr<Tokenizer> tokenizer;
    std::string tokenizer_path;  // where the tokenizer was read from

    const Transformer& model() const { return loaded.model; }
    int64_t vocab_limit() const { return tokenizer->vocab_size(); }

    // The ids a prompt starts from: the tokenizer's special tokens added as Hugging Face's
    // add_special_tokens=True does (Llama: BOS; BERT: [CLS] … [SEP]; GPT-2: none). An empty
    // prompt that gives no ids starts from BOS, or else EOS (GPT-2's <|endoftext|>, which
    // begins every document it was trained on); an Error when the model declares neither.
    std::vector<int64_t> prompt_ids(const std::string& text) const;

    // The tokens that end a generation: EOS, and BOS too for llama2.c checkpoints (a BOS in
    // the middle starts a new story; run.c stops there).
    std::vector<int64_t> stop_tokens() const;
    std::optional<int64_t> bos() const;
    std::optional<int64_t> eos() const;
};

// `weights`: bf16 or int8 converts the model's matrices after loading (low_precision.hpp,
// Transformer::convert_weights), for faster inference. `load`: mapped or read (LoadOptions).
TextModel load_text_model(const std::string& model_path, const std::string& tokenizer_path = "",
                          WeightType weights = WeightType::f32, const LoadOptions& load = {});

// Checks `tokenizer` (read from tokenizer_path) against a model of `model_vocab` tokens (the
// sizes above, its special ids in range); the Error names the tokenizer file and both sizes.
void check_tokenizer_fits(const Tokenizer& tokenizer, const std::string& tokenizer_path, int64_t model_vocab,
                          const std::string& model_path);

}  // namespace attend
