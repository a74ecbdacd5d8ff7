// tokenizers/pipeline_parts.hpp — the stages of Hugging Face's tokenizer.json pipeline, each an
// interface with the types tokenizer.json names, read from its JSON by the read_* functions:
//
//   text ─ added tokens ─▶ normalizer ─▶ pre-tokenizer ─▶ model ─▶ ids ─ post-processor
//   ids ─▶ token strings ─▶ decoder ─▶ text
//
// Strings are the normalized text of each piece, as Hugging Face keeps them (ByteLevel writes
// bytes as its printable characters 'Ġ'; Metaspace writes spaces as '▁'). Offsets are not
// tracked: attend needs ids and text, not alignments. A type or option we do not implement is
// refused with bad_file naming the component ("<file>: pre_tokenizer type \"X\" is not supported").
// Internal to src/tokenizers.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace attend::tokenizers {

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual std::string normalize(std::string text) const = 0;
};

// One piece of text on its way to the model. at_start: it begins at the start of the input
// (Metaspace's prepend_scheme "first" asks).
struct Piece {
    std::string text;
    bool at_start = false;
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    virtual void split(std::vector<Piece>& pieces) const = 0;
};

// The model: one pre-token → ids, and the vocabulary both ways.
class Model {
public:
    virtual ~Model() = default;
    virtual void tokenize(std::string_view word, std::vector<int64_t>& out) const = 0;
    virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
    virtual const std::string* id_to_token(int64_t id) const = 0;  // null when the id has no token
    virtual int64_t size() const = 0;                                // one past the largest id
    virtual std::vector<std::string> merge_list() const { return {}; }  // BPE: "a b" in rank order
};

class Decoder {
public:
    virtual ~Decoder() = default;
    // Hugging Face's decode_chain: token strings in, strings out (joined by the caller).
    virtual void decode(std::vector<std::string>& tokens) const = 0;
};

// From tokenizer.json's "normalizer", "pre_tokenizer", "decoder" (null: none → nullptr) and
// "model". origin names the file in errors.
std::unique_ptr<Normalizer> read_normalizer(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<PreTokenizer> read_pre_tokenizer(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Decoder> read_decoder(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Model> read_model(const nlohmann::json& j, const std::string& origin);

// ---- built in code (GGUF vocabularies) ----------------------------------------------------
// Split on each pattern in turn (behavior Isolated), then ByteLevel without its own regex:
// the pre-tokenizer of a byte-level BPE vocabulary whose patterns llama.cpp lists by name.
std::unique_ptr<PreTokenizer> make_regex_byte_level(const std::vector<std::string>& patterns, bool gpt2_regex,
                                                    const std::string& origin);
std::unique_ptr<Decoder> make_byte_level_decoder();

// A model whose vocabulary is a table of (token, id) pairs (BPE, WordPiece): both lookups and
// the checks on the ids (each in [0, INT32_MAX], not absurdly sparse), in one place
// (vocab_model.cpp).
class VocabModel : public Model {
public:
    std::optional<int64_t> token_to_id(std::string_view token) const override;
    const std::string* id_to_token(int64_t id) const override;
    int64_t size() const override { return int64_t(tokens_.size()); }

protected:
    VocabModel(const std::vector<std::pair<std::string, int64_t>>& vocab, const std::string& origin);
    const std::unordered_map<std::string, int64_t>& ids() const { return ids_; }

private:
    std::vector<std::string> tokens_;  // by id; "" where no token has the id
    std::vector<bool> present_;
    std::unordered_map<std::string, int64_t> ids_;
};

struct BpeModelSpec {
    std::vector<std::pair<std::string, int64_t>> vocab;
    std::vector<std::pair<std::string, std::string>> merges;
    std::optional<std::string> unk;
    std::string continuing_subword_prefix, end_of_word_suffix;
    bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
};
std::unique_ptr<Model> make_bpe_model(const BpeModelSpec& spec, const std::string& origin);

// The models by type, from tokenizer.json's "model" (bpe_model.cpp, wordpiece_model.cpp, unigram.cpp).
std::unique_ptr<Model> read_bpe_model(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Model> read_wordpiece_model(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Model> read_unigram_model(const nlohmann::json& j, const std::string& origin);

// {"token": id, ...} → pairs, ids checked (non-negative, not absurdly sparse).
std::vector<std::pair<std::string, int64_t>> read_vocab_object(const nlohmann::json& j, const std::string& origin,
                                                               const std::string& what);
// The optional string key, or nothing (null or absent); a non-string is an error.
std::optional<std::string> optional_string(const nlohmann::json& j, const char* key, const std::string& origin,
                                           const std::string& what);

// {"String": "x"} → the literal as a pattern; {"Regex": "x"} → the pattern. what: for errors.
std::string read_pattern(const nlohmann::json& j, const std::string& origin, const std::string& what);
std::string read_string(const nlohmann::json& j, const char* key, const std::string& origin, const std::string& what);

// The keys every tokenizer.json component object must have: "type" as a string.
std::string component_type(const nlohmann::json& j, const std::string& origin, const char* component);

}  // namespace attend::tokenizers
