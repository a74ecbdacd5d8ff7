// train/data.hpp — what the trainer feeds the model.
//
//   text → tokens        a character vocabulary (sorted distinct bytes of the text, after a
//                        few special tokens), or anything that maps text to ids
//   causal LM            random contiguous blocks: x = tokens[i, i+T), y = tokens[i+1, i+T+1]
//   masked LM (BERT)     15% of positions chosen; of those 80% → [MASK], 10% → a random
//                        token, 10% unchanged; the loss sees only the chosen positions
//   seq2seq              tab-separated "source<TAB>target" lines; the decoder reads
//                        [BOS] target and predicts target [EOS] (teacher forcing); right
//                        padding with per-sequence lengths, padded targets ignored
// Every random choice draws from a Generator the caller owns, so a batch is a function of
// the generator's state: saving that state saves the position in the data.
//
// Implemented in src/train/data.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attend/models/transformer.hpp"
#include "attend/random.hpp"

namespace attend {

// A character-level vocabulary: ids 0..n_special-1 are the special tokens, then the distinct
// bytes of the text in byte order.
class CharVocab {
public:
    CharVocab() = default;
    CharVocab(const std::string& text, std::vector<std::string> specials);

    std::vector<int64_t> encode(const std::string& text) const;  // an unknown byte is an Error
    std::string decode(const std::vector<int64_t>& ids) const;   // special tokens are skipped
    int64_t size() const { return int64_t(specials_.size() + chars_.size()); }
    int64_t special(const std::string& name) const;               // id of a special token
    const std::vector<std::string>& specials() const { return specials_; }
    const std::string& chars() const { return chars_; }
    static CharVocab from_parts(std::vector<std::string> specials, std::string chars);

private:
    std::vector<std::string> specials_;
    std::string chars_;
    int64_t index_[256];
};

std::string read_text_file(const std::string& path);

// nanoGPT's split: the first `train_fraction` of the tokens train, the rest validate.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_tokens(const std::vector<int64_t>& tokens,
                                                                   double train_fraction = 0.9);

// A training batch: model input and one target per position (ignore_index where none).
struct Batch {
    TokenBatch input;              // decoder / encoder input
    TokenBatch source;             // seq2seq: the encoder's input
    std::vector<int64_t> targets;  // (B, T) row-major
    int64_t n_targets() const;     // targets that are not ignored
};

constexpr int64_t kIgnore = -100;

// B random blocks of T+1 consecutive tokens: input = first T, targets = last T.
Batch causal_lm_batch(const std::vector<int64_t>& tokens, int64_t batch, int64_t block, Generator& gen);

// BERT masking of `input` in place: targets hold the original ids at the chosen positions.
// Positions t ≥ lengths[b] and ids in `never_mask` (specials) are never chosen.
void mask_tokens(Batch& batch, int64_t mask_id, int64_t vocab_size, Generator& gen, float probability = 0.15f,
                 const std::vector<int64_t>& never_mask = {});

// Source/target pairs, already tokenised.
struct Pair {
    std::vector<int64_t> source, target;
};
// Lines "source\ttarget" (empty lines skipped; a line without a tab is an Error naming it).
std::vector<std::pair<std::string, std::string>> read_pairs(const std::string& path);

// B random pairs: source right-padded; input = [bos] target, targets = target [eos], padded
// with `pad` / kIgnore. Sequences longer than max_length are cut.
Batch seq2seq_batch(const std::vector<Pair>& pairs, int64_t batch, Generator& gen, int64_t pad, int64_t bos,
                    int64_t eos, int64_t max_length);
// The same for pairs [first, first + count) in order (evaluation).
Batch seq2seq_batch_range(const std::vector<Pair>& pairs, size_t first, size_t count, int64_t pad, int64_t bos,
                          int64_t eos, int64_t max_length);

}  // namespace attend
