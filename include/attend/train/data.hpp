// train/data.hpp — what the trainer feeds the model.
//
//   text → tokens        any Tokenizer (the trainer's default: a CharTokenizer of the text's
//                        characters); or a file of tokens already made (`attend tokenize
//                        --out`, nanoGPT's train.bin: little-endian uint16), memory-mapped
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
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attend/models/transformer.hpp"
#include "attend/random.hpp"
#include "attend/tokenizers/tokenizer.hpp"

namespace attend {

// A token sequence the batches are cut from: owned ids, or a view of a memory-mapped token
// file (uint16, as nanoGPT's prepare.py writes). Copies and slices share the storage.
class TokenSequence {
public:
    TokenSequence() = default;
    TokenSequence(std::vector<int64_t> ids);  // NOLINT: implicit, a vector of ids is a sequence
    // Maps `path` (raw little-endian uint16 ids); every id must be < vocab_size (checked once,
    // here: a file that lies about its vocabulary is an error naming it, not a bad lookup later).
    static TokenSequence map_uint16(const std::string& path, int64_t vocab_size);

    int64_t size() const { return size_; }
    int64_t operator[](int64_t i) const { return ids_ ? ids_[offset_ + i] : int64_t(u16_[offset_ + i]); }
    TokenSequence slice(int64_t begin, int64_t end) const;  // [begin, end)

private:
    std::shared_ptr<const void> keep_;  // the vector or the mapping
    const int64_t* ids_ = nullptr;
    const uint16_t* u16_ = nullptr;
    int64_t offset_ = 0, size_ = 0;
};

// The checks map_uint16 makes on a token file's bytes: an even, non-zero size and every id
// below vocab_size; the Error names `path` and the first bad token.
void check_uint16_tokens(const void* bytes, size_t size, int64_t vocab_size, const std::string& path);

// Writes ids as the uint16 token file TokenSequence::map_uint16 reads (atomically); an id
// over 65535 is an error (the format has 16 bits).
void write_uint16_tokens(const std::string& path, const std::vector<int64_t>& ids);

std::string read_text_file(const std::string& path);

// The special tokens training needs, found in any tokenizer by its declared ids or by the
// usual names: bos "<bos>" "<s>" "[CLS]" "<|endoftext|>", eos "<eos>" "</s>" "[SEP]"
// "<|endoftext|>", pad "<pad>" "[PAD]" (else eos: padded positions are masked and ignored, so
// any id serves), mask "[MASK]" "<mask>".
struct SpecialTokens {
    std::optional<int64_t> pad, bos, eos, mask;
    static SpecialTokens of(const Tokenizer& tokenizer);
};
// `id`, or an Error naming the tokenizer's file: "has no <what> token, which <purpose> needs".
int64_t need_special(const std::optional<int64_t>& id, const Tokenizer& tokenizer, const std::string& what,
                     const std::string& purpose);

// nanoGPT's split: the first `train_fraction` of the tokens train, the rest validate.
std::pair<TokenSequence, TokenSequence> split_tokens(const TokenSequence& tokens, double train_fraction = 0.9);

// A training batch: model input and one target per position (ignore_index where none).
struct Batch {
    TokenBatch input;              // decoder / encoder input
    TokenBatch source;             // seq2seq: the encoder's input
    std::vector<int64_t> targets;  // (B, T) row-major
    int64_t n_targets() const;     // targets that are not ignored
};

constexpr int64_t kIgnore = -100;

// B random blocks of T+1 consecutive tokens: input = first T, targets = last T.
Batch causal_lm_batch(const TokenSequence& tokens, int64_t batch, int64_t block, Generator& gen);

// BERT masking of `input` in place: targets hold the original ids at the chosen positions.
// Positions t ≥ lengths[b] and ids in `never_mask` (specials) are never chosen.
void mask_tokens(Batch& batch, int64_t mask_id, int64_t vocab_size, Generator& gen, float probability = 0.15f,
                 const std::vector<int64_t>& never_mask = {});

// Source/target pairs, already tokenised.
struct Pair {
    std::vector<int64_t> source, target;
};
// Lines "source\ttarget" (empty lines skipped; a line without a tab, or with an empty side,
// is an Error naming the file and the line).
std::vector<std::pair<std::string, std::string>> read_pairs(const std::string& path);
std::vector<std::pair<std::string, std::string>> parse_pairs(std::string_view text, const std::string& path);

// B random pairs: source right-padded; input = [bos] target, targets = target [eos], padded
// with `pad` / kIgnore. Sequences longer than max_length are cut.
Batch seq2seq_batch(const std::vector<Pair>& pairs, int64_t batch, Generator& gen, int64_t pad, int64_t bos,
                    int64_t eos, int64_t max_length);
// The same for pairs [first, first + count) in order (evaluation).
Batch seq2seq_batch_range(const std::vector<Pair>& pairs, size_t first, size_t count, int64_t pad, int64_t bos,
                          int64_t eos, int64_t max_length);

}  // namespace attend
