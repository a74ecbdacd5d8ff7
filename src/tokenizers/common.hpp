// tokenizers/common.hpp — what the tokenizer readers share: file errors, reading files and
// JSON, quoting tokens in messages, finding special tokens in text, and the post-processing
// template (which special tokens go around a sequence). Internal to src/tokenizers.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attend/error.hpp"
#include "attend/tokenizers/tokenizer.hpp"

namespace attend::tokenizers {

// Every file problem names the file first: attend::bad_file (attend/error.hpp).

// j[key] as a bool: `fallback` when absent or null; anything else is bad_file
// ("<what> \"<key>\" is not true or false").
bool flag(const nlohmann::json& j, const char* key, bool fallback, const std::string& origin, const std::string& what);

// Parses JSON; a syntax error is bad_file with the byte offset.
nlohmann::json parse_json(std::string_view text, const std::string& origin);

// A flat {"token": id, ...} object (GPT-2's vocab.json / encoder.json) read straight into
// (token, id) pairs in file order, without a JSON tree: the tree of a 50 k-token vocabulary is
// 50 k map nodes built and torn down again (a third of loading GPT-2's tokenizer). A token
// given twice keeps its last id, as Python's json and Hugging Face's tokenizers do. Errors
// name `what`: not an object, an id that is not an integer, an empty object, a syntax error.
std::vector<std::pair<std::string, int64_t>> parse_vocab_json(std::string_view text, const std::string& origin,
                                                              const std::string& what);
// Whether text opens such an object: an object whose first member is an integer (where
// tokenizer.json opens with "version": "1.0" and a character vocabulary with "type": "char").
// Reads no further than that member.
bool starts_as_vocab_json(std::string_view text);

// A token or line for an error message: quoted, control characters escaped, long ones cut,
// so that the message stays on one line.
std::string quote_token(std::string_view text, size_t max_bytes = 48);

// Special tokens found in text: leftmost first, the longest where several start at one place.
struct SpecialToken {
    std::string text;
    int64_t id;
};
struct Segment {
    std::string_view text;  // ordinary text, when id < 0
    int64_t id = -1;        // a special token
};
std::vector<Segment> split_on_special(std::string_view text, const std::vector<SpecialToken>& specials);

// The ids a post-processor adds around one sequence: [CLS] $A [SEP] → before {101}, after {102}.
struct Template {
    std::vector<int64_t> before, after;
};
// From tokenizer.json's "post_processor": null, ByteLevel, TemplateProcessing, BertProcessing,
// RobertaProcessing, or a Sequence of those. lookup gives the id of a token by its name.
Template read_post_processor(const nlohmann::json& pp, const std::string& origin,
                             const std::function<std::optional<int64_t>(const std::string&)>& lookup);
// The same, looking token names up in a tokenizer.json's vocabulary and its added tokens
// (an added token wins over a vocabulary entry of the same text).
Template read_post_processor(const nlohmann::json& tokenizer_json, const std::string& origin,
                             const std::vector<std::pair<std::string, int64_t>>& vocab,
                             const std::vector<SpecialToken>& added);

// tokenizer.json's "added_tokens" (absent or null: none), appended to `added`, with whether each
// is special (matched only when special tokens are asked for) appended to `special`.
void read_added_tokens(const nlohmann::json& tokenizer_json, const std::string& origin, std::vector<SpecialToken>& added,
                       std::vector<bool>& special);

// Ids in a vocabulary file may have gaps, but not so many that a small file could make us
// allocate gigabytes: the largest id must be below 2 · (number of tokens) + 256.
void check_id_range(int64_t max_id, size_t tokens, const std::string& origin);

// The readers of tokenizer.json's two model types (bpe.cpp, wordpiece.cpp).
std::unique_ptr<Tokenizer> parse_hf_bpe(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Tokenizer> parse_hf_wordpiece(const nlohmann::json& j, const std::string& origin);

// SentencePiece BPE by scores (sentencepiece_bpe.cpp) from pieces written with ' ' for U+2581.
// types: llama.cpp's token types per piece (empty: llama2.c's layout, controls at 0..2).
struct SentencePieceOptions {
    std::vector<int64_t> types;
    std::optional<int64_t> bos, eos, unk;
    bool add_bos = true, add_eos = false;  // what add_special puts around the ids
};
std::unique_ptr<Tokenizer> make_sentencepiece_bpe(std::vector<std::string> pieces, std::vector<float> scores,
                                                  SentencePieceOptions options, const std::string& origin);

}  // namespace attend::tokenizers
