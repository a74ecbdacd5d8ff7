// tokenizers/gguf_vocab.cpp — a GGUF file's tokenizer, through the readers attend already has.
//
// The metadata is restated in the form one of them reads, so each kind keeps one
// implementation: "gpt2" (with pre-tokenizer "gpt-2" or "default") becomes a byte-level BPE
// tokenizer.json, "llama" a llama2.c tokenizer.bin (pieces and scores, U+2581 as ' '), "bert"
// a WordPiece tokenizer.json (llama.cpp stores word-initial pieces with a U+2581 prefix and
// continuations bare; BERT's vocabulary has continuations with "##" and initial pieces bare).
// Other models and pre-tokenizers are refused, naming the key.
#include "tokenizers/gguf_vocab.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

#include "io/gguf.hpp"
#include "tokenizers/common.hpp"

namespace attend {

namespace {

using json = nlohmann::json;
constexpr const char* kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's word boundary
constexpr int64_t kControl = 3;                  // llama.cpp's token_type for special tokens

bool starts_with(const std::string& s, const char* head) { return s.compare(0, std::strlen(head), head) == 0; }

// token_type, when present, as long as the vocabulary.
std::vector<int64_t> token_types(const GgufFile& f, size_t n) {
    if (!f.has("tokenizer.ggml.token_type")) return {};
    std::vector<int64_t> types = f.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != n)
        f.fail_key("tokenizer.ggml.token_type", "has " + std::to_string(types.size()) + " entries for " +
                                                    std::to_string(n) + " tokens");
    return types;
}

json added_controls(const std::vector<std::string>& tokens, const std::vector<int64_t>& types) {
    json added = json::array();
    for (size_t i = 0; i < types.size(); ++i)
        if (types[i] == kControl)
            added.push_back({{"id", i}, {"content", tokens[i]}, {"single_word", false}, {"lstrip", false},
                             {"rstrip", false}, {"normalized", false}, {"special", true}});
    return added;
}

std::unique_ptr<Tokenizer> gpt2(const GgufFile& f, const std::vector<std::string>& tokens) {
    const std::string pre = f.get_string("tokenizer.ggml.pre", "default");
    if (pre != "gpt-2" && pre != "default")
        f.fail_key("tokenizer.ggml.pre", "\"" + pre + "\" is not implemented (attend reads GPT-2's byte-level BPE: \"gpt-2\")");
    json vocab = json::object();
    for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
    if (vocab.size() != tokens.size()) f.fail_key("tokenizer.ggml.tokens", "holds a token twice");
    const json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", f.get_string_array("tokenizer.ggml.merges")}}},
                    {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
                    {"decoder", {{"type", "ByteLevel"}}},
                    {"added_tokens", added_controls(tokens, token_types(f, tokens.size()))}};
    return tokenizers::parse_hf_tokenizer_json(j.dump(), f.path());
}

std::unique_ptr<Tokenizer> llama(const GgufFile& f, const std::vector<std::string>& tokens) {
    const std::vector<float> scores = f.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != tokens.size())
        f.fail_key("tokenizer.ggml.scores", "has " + std::to_string(scores.size()) + " entries for " +
                                                std::to_string(tokens.size()) + " tokens");
    // parse_llama2c's SentencePiece has <unk>, <s>, </s> at 0, 1, 2 (Llama-2's layout).
    const std::pair<const char*, uint32_t> fixed[] = {
        {"tokenizer.ggml.unknown_token_id", 0}, {"tokenizer.ggml.bos_token_id", 1}, {"tokenizer.ggml.eos_token_id", 2}};
    for (const auto& [key, id] : fixed)
        if (f.has(key) && f.get_u32(key) != id)
            f.fail_key(key, std::to_string(f.get_u32(key)) + " differs from the SentencePiece layout attend reads "
                                                            "(<unk> 0, <s> 1, </s> 2)");
    // llama2.c's tokenizer.bin: i32 max_token_length, then per token f32 score, i32 length, bytes.
    std::string bin(4, '\0');
    int32_t max_len = 1;
    for (size_t i = 0; i < tokens.size(); ++i) {
        std::string piece;
        for (size_t at = 0; at < tokens[i].size();)
            if (tokens[i].compare(at, 3, kSpace) == 0) piece += ' ', at += 3;
            else piece += tokens[i][at++];
        if (piece.empty() || piece.size() > (1u << 20)) f.fail_key("tokenizer.ggml.tokens", "token " + std::to_string(i) + " is empty or too long");
        const int32_t len = int32_t(piece.size());
        max_len = std::max(max_len, len);
        bin.append(reinterpret_cast<const char*>(&scores[i]), 4).append(reinterpret_cast<const char*>(&len), 4) += piece;
    }
    std::memcpy(bin.data(), &max_len, 4);
    return tokenizers::parse_llama2c(bin, f.path());
}

std::unique_ptr<Tokenizer> bert(const GgufFile& f, const std::vector<std::string>& tokens) {
    json vocab = json::object();
    for (size_t i = 0; i < tokens.size(); ++i) {
        const std::string& t = tokens[i];
        const bool special = t.size() >= 2 && t.front() == '[' && t.back() == ']';
        vocab[special ? t : starts_with(t, kSpace) ? t.substr(3) : "##" + t] = i;
    }
    if (vocab.size() != tokens.size()) f.fail_key("tokenizer.ggml.tokens", "holds a token twice (in BERT's form)");
    // A special token's text (BERT's specials keep their form), by its id key or the default.
    const auto special = [&](const char* key, uint32_t fallback) {
        const uint32_t id = f.get_u32(key, fallback);
        if (id >= tokens.size()) f.fail_key(key, std::to_string(id) + " is not a token id (" + std::to_string(tokens.size()) + " tokens)");
        return std::pair<std::string, uint32_t>(tokens[id], id);
    };
    const auto [cls, cls_id] = special("tokenizer.ggml.cls_token_id", 101);
    const auto [sep, sep_id] = special("tokenizer.ggml.seperator_token_id", 102);
    const std::string unk = special("tokenizer.ggml.unknown_token_id", 100).first;
    const json j = {{"model", {{"type", "WordPiece"}, {"vocab", vocab}, {"unk_token", unk},
                               {"continuing_subword_prefix", "##"}, {"max_input_chars_per_word", 100}}},
                    {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                                    {"strip_accents", nullptr}, {"lowercase", true}}},
                    {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
                    {"post_processor", {{"type", "BertProcessing"},
                                        {"cls", {cls, cls_id}},
                                        {"sep", {sep, sep_id}}}},
                    {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
                    {"added_tokens", added_controls(tokens, token_types(f, tokens.size()))}};
    return tokenizers::parse_hf_tokenizer_json(j.dump(), f.path());
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& f) {
    if (!f.has("tokenizer.ggml.model")) f.fail_key("tokenizer.ggml.model", "missing: the file carries no tokenizer");
    const std::string model = f.get_string("tokenizer.ggml.model");
    const std::vector<std::string>& tokens = f.get_string_array("tokenizer.ggml.tokens");
    if (tokens.empty()) f.fail_key("tokenizer.ggml.tokens", "is empty");
    if (model == "gpt2") return gpt2(f, tokens);
    if (model == "llama") return llama(f, tokens);
    if (model == "bert") return bert(f, tokens);
    f.fail_key("tokenizer.ggml.model", "\"" + model + "\" is not implemented (attend reads gpt2, llama and bert)");
}

}  // namespace attend
