// train/data_source.hpp — the data side of a training run, per architecture: the tokenizer
// (a new run's, written into the output folder; a resumed run's, read from it), the
// train/validation split, and the batches the loop draws (private to src/train).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "attend/random.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "attend/train/data.hpp"
#include "attend/train/train_options.hpp"

namespace attend {

struct DataSource {
    TrainArch arch;
    std::shared_ptr<const Tokenizer> tokenizer;
    SpecialTokens special;
    TokenSequence train_tokens, val_tokens;   // gpt, bert
    std::vector<Pair> train_pairs, val_pairs;  // seq2seq
    int64_t block = 0;
    int64_t most_frequent = 0;  // in the training split's targets: the unigram baseline's guess

    // `batch` sequences of the training or the validation split, from `gen` (BERT's masked).
    Batch draw(bool validation, int64_t batch, Generator& gen) const;
};

// The tokenizer of a new run, written into the output folder (by rank 0 alone: `write`) so
// that `attend generate` (and `--resume`) find it beside the model: --tokenizer's files
// copied under their standard names, or a character vocabulary of the data saved as
// tokenizer.json.
std::shared_ptr<const Tokenizer> prepare_tokenizer(const TrainOptions& options, bool write);

// options.data read and tokenised, split 90/10 into training and validation.
DataSource load_data(const TrainOptions& options, std::shared_ptr<const Tokenizer> tokenizer);

}  // namespace attend
