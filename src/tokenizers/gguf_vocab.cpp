// tokenizers/gguf_vocab.cpp — a GGUF file's tokenizer (tokenizer.ggml.*), built from attend's
// tokenizer pieces:
//
//   "gpt2"   byte-level BPE: tokens (byte-mapped, 'Ġ' for ' ') and merges ("a b", by rank) as
//            the pipeline's BPE model; tokenizer.ggml.pre names the pre-tokenizer, i.e. the
//            regular expressions of that model's tokenizer.json, applied in turn (each match
//            and each gap a piece, Split's Isolated), then ByteLevel. The names and patterns
//            are those llama.cpp lists (llama-vocab.cpp) for the Hugging Face files they stand for.
//   "llama"  SentencePiece BPE by score (sentencepiece_bpe.cpp) with the token types: control
//            pieces (type 3) are matched in text only with add_special, user-defined ones (4)
//            always, bytes (6) are the <0xXX> fallback. BOS/EOS/UNK ids and add_bos/add_eos
//            from the metadata (defaults: Llama-2's 1, 2, 0, BOS added, EOS not).
//   "bert"   WordPiece: llama.cpp stores word-initial pieces with a U+2581 prefix and
//            continuations bare; BERT's own form (continuations "##", initial pieces bare) is
//            restated as a tokenizer.json for wordpiece.cpp.
// Anything else is refused, naming the file and key.
#include "tokenizers/gguf_vocab.hpp"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "core/require.hpp"
#include "io/gguf.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/pipeline.hpp"

namespace attend {

namespace {

using json = nlohmann::json;
constexpr const char* kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's word boundary
// llama.cpp's token types.
constexpr int64_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;

bool starts_with(const std::string& s, const char* head) { return s.compare(0, std::strlen(head), head) == 0; }

// The restated tokenizer.json: tokens that are not UTF-8 cannot be JSON text.
std::string dump(const json& j, const GgufFile& f) {
    try {
        return j.dump();
    } catch (const json::exception&) {
        f.fail_key("tokenizer.ggml.tokens", "holds a token that is not valid UTF-8");
    }
}

// token_type, when present, as long as the vocabulary and with known values.
std::vector<int64_t> token_types(const GgufFile& f, size_t n) {
    if (!f.has("tokenizer.ggml.token_type")) return {};
    std::vector<int64_t> types = f.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != n)
        f.fail_key("tokenizer.ggml.token_type", "has " + std::to_string(types.size()) + " entries for " +
                                                    std::to_string(n) + " tokens");
    for (size_t i = 0; i < n; ++i)
        if (types[i] < 0 || types[i] > kByte)
            f.fail_key("tokenizer.ggml.token_type", "entry " + std::to_string(i) + " is " + std::to_string(types[i]) +
                                                        ", not a token type (0 .. 6)");
    return types;
}

std::optional<int64_t> special_id(const GgufFile& f, const char* key, size_t n, std::optional<int64_t> fallback) {
    if (!f.has(key)) return fallback;
    const uint32_t id = f.get_u32(key);
    if (id >= n) f.fail_key(key, std::to_string(id) + " is not a token id (" + std::to_string(n) + " tokens)");
    return int64_t(id);
}

// ---- gpt2 ------------------------------------------------------------------------------

// GPT-2's pattern; attend's ByteLevel applies it by hand (byte_level.cpp), so it is not listed.
struct PreTokenizerPatterns {
    std::vector<std::string> regexes;
    bool gpt2 = false;  // then GPT-2's own pattern (ByteLevel with use_regex)
};

const char* const kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::optional<PreTokenizerPatterns> patterns_for(const std::string& pre) {
    if (pre == "default" || pre == "gpt-2") return PreTokenizerPatterns{{}, true};
    if (pre == "llama3" || pre == "llama-bpe" || pre == "dbrx" || pre == "smaug-bpe") return PreTokenizerPatterns{{kLlama3Regex}, false};
    if (pre == "qwen2") return PreTokenizerPatterns{{kQwen2Regex}, false};
    if (pre == "starcoder" || pre == "refact" || pre == "command-r" || pre == "smollm" || pre == "codeshell")
        return PreTokenizerPatterns{{R"(\p{N})", kGpt2Regex}, false};  // digits one by one, then GPT-2's
    if (pre == "falcon")
        return PreTokenizerPatterns{{R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Regex, "[0-9][0-9][0-9]"}, false};
    if (pre == "deepseek-coder")
        return PreTokenizerPatterns{{R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)", R"(\p{N})"}, false};
    if (pre == "deepseek-llm")
        return PreTokenizerPatterns{
            {R"([\r\n])",
             R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x)"
             R"({2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{)"
             R"(3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F)"
             R"(5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-)"
             R"(\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{)"
             R"(1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4)"
             R"(}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\)"
             R"(x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A)"
             R"(}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{)"
             R"(2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69)"
             R"(B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-)"
             R"(\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104)"
             R"(FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)",
             R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)", R"(\s+$)", R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)", R"(\p{N}+)"},
            false};
    return std::nullopt;
}

std::unique_ptr<Tokenizer> gpt2(const GgufFile& f, const std::vector<std::string>& tokens) {
    const std::string pre = f.get_string("tokenizer.ggml.pre", "default");
    const std::optional<PreTokenizerPatterns> patterns = patterns_for(pre);
    if (!patterns)
        f.fail_key("tokenizer.ggml.pre", "\"" + pre +
                                             "\" is not implemented (attend reads default, gpt-2, llama3, llama-bpe, dbrx, smaug-bpe,"
                                             " qwen2, starcoder, refact, command-r, smollm, codeshell, falcon, deepseek-llm,"
                                             " deepseek-coder)");
    const std::vector<int64_t> types = token_types(f, tokens.size());
    tokenizers::BpeModelSpec bpe;
    tokenizers::PipelineSpec spec;
    spec.origin = f.path();
    spec.kind = "gguf-bpe";
    spec.gguf_pre = pre == "default" ? "gpt-2" : pre;
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (!seen.insert(tokens[i]).second) f.fail_key("tokenizer.ggml.tokens", "holds " + tokenizers::quote_token(tokens[i]) + " twice");
        const int64_t type = types.empty() ? kNormal : types[i];
        if (type == kControl || type == kUserDefined || type == kUnknown) {
            // Added tokens: control ones are special (matched only with add_special).
            spec.added.push_back({tokens[i], int64_t(i), type != kUserDefined, false, false, false, false});
        }
        if (type != kUnused) bpe.vocab.emplace_back(tokens[i], int64_t(i));
    }
    if (f.has("tokenizer.ggml.merges"))
        for (const std::string& m : f.get_string_array("tokenizer.ggml.merges")) {
            const size_t sp = m.find(' ', 1);
            if (sp == std::string::npos || sp + 1 >= m.size())
                f.fail_key("tokenizer.ggml.merges", "entry " + tokenizers::quote_token(m) + " is not two tokens separated by a space");
            bpe.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
        }
    else
        f.fail_key("tokenizer.ggml.merges", "missing: byte-level BPE needs its merge rules");
    spec.unk = special_id(f, "tokenizer.ggml.unknown_token_id", tokens.size(), std::nullopt);
    if (spec.unk) bpe.unk = tokens[*spec.unk];
    spec.model = tokenizers::make_bpe_model(bpe, f.path());
    spec.pre_tokenizer = tokenizers::make_regex_byte_level(patterns->regexes, patterns->gpt2, f.path());
    spec.decoder = tokenizers::make_byte_level_decoder();
    spec.bos = special_id(f, "tokenizer.ggml.bos_token_id", tokens.size(), std::nullopt);
    spec.eos = special_id(f, "tokenizer.ggml.eos_token_id", tokens.size(), std::nullopt);
    spec.pad = special_id(f, "tokenizer.ggml.padding_token_id", tokens.size(), std::nullopt);
    if (f.get_bool("tokenizer.ggml.add_bos_token", false) && spec.bos) spec.post.before.push_back(*spec.bos);
    if (f.get_bool("tokenizer.ggml.add_eos_token", false) && spec.eos) spec.post.after.push_back(*spec.eos);
    return tokenizers::make_pipeline(std::move(spec));
}

// ---- llama (SentencePiece) ---------------------------------------------------------------

std::unique_ptr<Tokenizer> llama(const GgufFile& f, const std::vector<std::string>& tokens) {
    std::vector<float> scores = f.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != tokens.size())
        f.fail_key("tokenizer.ggml.scores", "has " + std::to_string(scores.size()) + " entries for " +
                                                std::to_string(tokens.size()) + " tokens");
    for (size_t i = 0; i < scores.size(); ++i)
        if (!std::isfinite(scores[i])) f.fail_key("tokenizer.ggml.scores", "entry " + std::to_string(i) + " is not a finite number");
    if (!f.get_bool("tokenizer.ggml.add_space_prefix", true))
        f.fail_key("tokenizer.ggml.add_space_prefix", "false is not implemented (attend's SentencePiece adds the dummy prefix)");
    std::vector<std::string> pieces;
    pieces.reserve(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
        std::string piece;
        for (size_t at = 0; at < tokens[i].size();)
            if (tokens[i].compare(at, 3, kSpace) == 0) piece += ' ', at += 3;
            else piece += tokens[i][at++];
        if (piece.empty()) f.fail_key("tokenizer.ggml.tokens", "token " + std::to_string(i) + " is empty");
        pieces.push_back(std::move(piece));
    }
    tokenizers::SentencePieceOptions options;
    options.types = token_types(f, tokens.size());
    options.unk = special_id(f, "tokenizer.ggml.unknown_token_id", tokens.size(), tokens.size() > 0 ? std::optional<int64_t>(0) : std::nullopt);
    options.bos = special_id(f, "tokenizer.ggml.bos_token_id", tokens.size(), tokens.size() > 1 ? std::optional<int64_t>(1) : std::nullopt);
    options.eos = special_id(f, "tokenizer.ggml.eos_token_id", tokens.size(), tokens.size() > 2 ? std::optional<int64_t>(2) : std::nullopt);
    options.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", true);
    options.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", false);
    if (options.types.empty()) {  // no types: bytes by name, controls at the special ids
        options.types.assign(tokens.size(), kNormal);
        for (size_t i = 0; i < tokens.size(); ++i)
            if (tokens[i].size() == 6 && starts_with(tokens[i], "<0x") && tokens[i][5] == '>') options.types[i] = kByte;
        for (const auto& id : {options.unk, options.bos, options.eos})
            if (id) options.types[*id] = kControl;
    }
    return tokenizers::make_sentencepiece_bpe(std::move(pieces), std::move(scores), std::move(options), f.path());
}

// ---- bert (WordPiece) --------------------------------------------------------------------

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
    json added = json::array();
    const std::vector<int64_t> types = token_types(f, tokens.size());
    for (size_t i = 0; i < types.size(); ++i)
        if (types[i] == kControl)
            added.push_back({{"id", i}, {"content", tokens[i]}, {"single_word", false}, {"lstrip", false},
                             {"rstrip", false}, {"normalized", false}, {"special", true}});
    const json j = {{"model", {{"type", "WordPiece"}, {"vocab", vocab}, {"unk_token", unk},
                               {"continuing_subword_prefix", "##"}, {"max_input_chars_per_word", 100}}},
                    {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                                    {"strip_accents", nullptr}, {"lowercase", true}}},
                    {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
                    {"post_processor", {{"type", "BertProcessing"},
                                        {"cls", {cls, cls_id}},
                                        {"sep", {sep, sep_id}}}},
                    {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
                    {"added_tokens", added}};
    return tokenizers::parse_hf_tokenizer_json(dump(j, f), f.path());
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& f) {
    if (!f.has("tokenizer.ggml.model")) f.fail_key("tokenizer.ggml.model", "missing: the file carries no tokenizer");
    const std::string model = f.get_string("tokenizer.ggml.model");
    const std::vector<std::string>& tokens = f.get_string_array("tokenizer.ggml.tokens");
    if (tokens.empty()) f.fail_key("tokenizer.ggml.tokens", "is empty");
    if (tokens.size() > (size_t(1) << 31)) f.fail_key("tokenizer.ggml.tokens", "has more than 2^31 tokens");
    if (model == "gpt2") return gpt2(f, tokens);
    if (model == "llama") return llama(f, tokens);
    if (model == "bert") return bert(f, tokens);
    f.fail_key("tokenizer.ggml.model", "\"" + model + "\" is not implemented (attend reads gpt2, llama and bert)");
}

// ---- the other way: a Tokenizer into the GGUF writer's options -------------------------------

void add_gguf_tokenizer(GgufWriteOptions& options, const Tokenizer& tok) {
    options.vocabulary = tok.vocabulary();
    require(options.vocabulary.has_value(), "the ", std::string(tok.kind()), " tokenizer ", tok.source(),
            " has no GGUF form (llama.cpp reads gpt2, llama and bert vocabularies)");
    options.vocabulary_source = tok.source();
    // Special ids: the caller's (the source model's files), else the tokenizer's own.
    const auto own = [](int64_t& id, std::optional<int64_t> theirs) {
        if (id < 0 && theirs) id = *theirs;
    };
    own(options.bos_id, tok.bos_id()), own(options.eos_id, tok.eos_id());
    own(options.pad_id, tok.pad_id()), own(options.unk_id, tok.unk_id());
    own(options.cls_id, tok.token_id("[CLS]")), own(options.sep_id, tok.token_id("[SEP]"));
    own(options.mask_id, tok.token_id("[MASK]"));
}

}  // namespace attend
