// tokenizers/pipeline.hpp — the general tokenizer: Hugging Face's tokenizer.json pipeline
// (added tokens → normalizer → pre-tokenizer → model → post-processor; decoder back), built
// from tokenizer.json or in code (GGUF vocabularies). Internal to src/tokenizers.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attend/tokenizers/tokenizer.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/pipeline_parts.hpp"

namespace attend::tokenizers {

// tokenizer.json's added_tokens entry. special: matched in text only with add_special (attend's
// rule: text is only text unless asked) and dropped by decode(skip_special). lstrip/rstrip: the
// match takes the whitespace beside it. single_word: matched only between non-word characters.
// normalized: matched in the normalized text; attend matches every added token in the raw text
// (the same wherever the normalizer leaves the token's own text alone, as in the published files).
struct AddedToken {
    std::string content;
    int64_t id = -1;
    bool special = false, lstrip = false, rstrip = false, normalized = false, single_word = false;
};

struct PipelineSpec {
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    std::unique_ptr<Model> model;
    std::unique_ptr<Decoder> decoder;
    std::vector<AddedToken> added;
    Template post;  // what add_special puts around the ids
    std::optional<int64_t> bos, eos, pad, unk;
    std::string origin;
    std::string kind = "tokenizer.json";
    // Built from a GGUF "gpt2" vocabulary: its tokenizer.ggml.pre, so vocabulary() can restate it.
    std::string gguf_pre;
};

std::unique_ptr<Tokenizer> make_pipeline(PipelineSpec spec);

// The whole of a tokenizer.json (any model type; every component read_* knows).
std::unique_ptr<Tokenizer> read_pipeline(const nlohmann::json& j, const std::string& origin);

}  // namespace attend::tokenizers
