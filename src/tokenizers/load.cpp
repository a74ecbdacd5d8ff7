// tokenizers/load.cpp — which reader a file or folder needs, tokenizer.json dispatch, and the
// streaming decoder.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include "attend/error.hpp"
#include "attend/io/tokenizer_files.hpp"
#include "attend/read_file.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "core/atomic_file.hpp"
#include "io/gguf.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/gguf_vocab.hpp"
#include "tokenizers/pipeline.hpp"
#include "tokenizers/unicode.hpp"

namespace attend {
namespace fs = std::filesystem;
using json = nlohmann::json;
using tokenizers::quote_token;

namespace {

const char* const kLookedFor = kTokenizerFilesLookedFor;  // io/tokenizer_files.hpp: the one search order

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// Whether an added token asks for lstrip, rstrip or single_word (only the pipeline does them).
bool added_flags_set(const json& j) {
    if (!j.contains("added_tokens") || !j["added_tokens"].is_array()) return false;
    for (const json& a : j["added_tokens"])
        for (const char* key : {"lstrip", "rstrip", "single_word"})
            if (a.is_object() && a.contains(key) && a[key] == true) return true;
    return false;
}

// tokenizer.json (Hugging Face) or our character vocabulary, already parsed.
std::unique_ptr<Tokenizer> from_tokenizer_json(const json& j, std::string_view text, const std::string& origin) {
    if (j.is_object() && j.contains("type") && j["type"] == "char")
        return std::make_unique<CharTokenizer>(CharTokenizer::parse(text, origin));
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
        bad_file(origin, "not a tokenizer.json: no \"model\" object");
    const json& model = j["model"];
    std::string type = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>() : "";
    if (type.empty()) type = model.contains("merges") ? "BPE" : model.contains("continuing_subword_prefix") ? "WordPiece" : "";
    // GPT-2's and BERT's own forms keep their dedicated readers (bpe.cpp, wordpiece.cpp);
    // everything else goes through the general pipeline (pipeline.cpp).
    const auto type_of = [&](const char* key) -> std::string {
        if (!j.contains(key) || j[key].is_null()) return "null";
        return j[key].is_object() && j[key].contains("type") && j[key]["type"].is_string() ? j[key]["type"].get<std::string>() : "?";
    };
    const auto set = [&](const char* key) {
        return model.contains(key) && !model[key].is_null() && !(model[key].is_string() && model[key] == "") && model[key] != false;
    };
    if (type == "BPE" && type_of("normalizer") == "null" && type_of("pre_tokenizer") == "ByteLevel" &&
        (type_of("decoder") == "null" || type_of("decoder") == "ByteLevel") && !set("byte_fallback") &&
        !set("continuing_subword_prefix") && !set("end_of_word_suffix") && !set("ignore_merges") &&
        !(model.contains("dropout") && !model["dropout"].is_null()) && !added_flags_set(j))
        return tokenizers::parse_hf_bpe(j, origin);
    if (type == "WordPiece" && (type_of("normalizer") == "null" || type_of("normalizer") == "BertNormalizer") &&
        type_of("pre_tokenizer") == "BertPreTokenizer")
        return tokenizers::parse_hf_wordpiece(j, origin);
    return tokenizers::read_pipeline(j, origin);
}

// BertTokenizer's options from tokenizer_config.json beside vocab.txt, when there is one.
tokenizers::WordPieceOptions wordpiece_options(const fs::path& dir) {
    tokenizers::WordPieceOptions options;
    const fs::path config = dir / "tokenizer_config.json";
    if (!is_file(config)) return options;
    const std::string origin = config.string();
    const json j = tokenizers::parse_json(read_file(origin, "tokenizer file"), origin);
    if (!j.is_object()) bad_file(origin, "is not a JSON object");
    const auto flag = [&](const char* key) -> std::optional<bool> {
        if (!j.contains(key) || j[key].is_null()) return std::nullopt;
        if (!j[key].is_boolean()) bad_file(origin, std::string("\"") + key + "\" is not true or false");
        return j[key].get<bool>();
    };
    if (auto v = flag("do_lower_case")) options.lowercase = *v;
    options.strip_accents = flag("strip_accents");
    if (auto v = flag("tokenize_chinese_chars")) options.split_chinese_chars = *v;
    return options;
}

// vocab_text: the vocabulary's bytes when the caller has read them already.
std::unique_ptr<Tokenizer> gpt2_pair(const fs::path& vocab, const fs::path& merges,
                                     std::optional<std::string> vocab_text = std::nullopt) {
    if (!vocab_text) vocab_text = read_file(vocab.string(), "tokenizer file");
    return tokenizers::parse_gpt2(*vocab_text, read_file(merges.string(), "tokenizer file"), vocab.string(),
                                  merges.string());
}

// The merge rules beside a GPT-2 vocabulary (or the vocabulary beside merge rules).
fs::path partner(const fs::path& file, const std::vector<const char*>& names, const std::string& what) {
    for (const char* name : names)
        if (is_file(file.parent_path() / name)) return file.parent_path() / name;
    std::string list;
    for (const char* name : names) list += (list.empty() ? "" : " or ") + std::string(name);
    bad_file(file.string(), what + " (" + list + ") beside it, and there is none");
}

std::unique_ptr<Tokenizer> load_file(const fs::path& path) {
    const std::string origin = path.string();
    const std::string name = lower(path.filename().string()), ext = lower(path.extension().string());
    if (ext == ".gguf") return tokenizer_from_gguf(GgufFile::open(origin));  // the tokenizer in its metadata
    if (name == "merges.txt" || ext == ".bpe")
        return gpt2_pair(partner(path, {"vocab.json", "encoder.json"}, "merge rules need their vocabulary"), path);
    if (ext == ".json") {
        std::string text = read_file(origin, "tokenizer file");  // moved into gpt2_pair if a vocab.json
        // {"token": id, ...}: vocab.json / encoder.json, told from the first entry (a JSON tree
        // of GPT-2's vocabulary only to look at it would cost as much as reading the tokenizer).
        if (tokenizers::starts_as_vocab_json(text))
            return gpt2_pair(path, partner(path, {"merges.txt", "vocab.bpe"}, "a GPT-2 vocabulary needs its merge rules"),
                             std::move(text));
        const json j = tokenizers::parse_json(text, origin);
        try {
            // "model" and "type" are also GPT-2 tokens: a vocab.json has them as ids, not objects.
            if (j.is_object() && ((j.contains("model") && j["model"].is_object()) ||
                                  (j.contains("type") && j["type"].is_string())))
                return from_tokenizer_json(j, text, origin);
        } catch (const json::exception& e) {
            bad_file(origin, std::string("malformed tokenizer.json: ") + e.what());
        }
        bad_file(origin, "not a tokenizer file (neither tokenizer.json, a {\"type\": \"char\"} vocabulary, nor a token → id map)");
    }
    if (ext == ".txt") {
        std::string text = read_file(origin, "tokenizer file");  // moved into gpt2_pair if a vocab.json
        if (text.compare(0, 8, "#version") == 0)
            return gpt2_pair(partner(path, {"vocab.json", "encoder.json"}, "merge rules need their vocabulary"), path);
        return tokenizers::parse_wordpiece_vocab(text, wordpiece_options(path.parent_path()), origin);
    }
    if (ext == ".bin") return tokenizers::parse_llama2c(read_file(origin, "tokenizer file"), origin);
    if (ext == ".model")
        bad_file(origin, "SentencePiece .model files (protobuf) are not supported; export a tokenizer.bin with llama2.c's tokenizer.py");
    bad_file(origin, std::string("not a tokenizer file attend knows (") + kLookedFor + ")");
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) bad_file(path, "no such file or directory");
    if (fs::is_directory(path, ec)) {
        const std::optional<std::string> file = find_tokenizer(path);
        if (!file) bad_file(path, std::string("no tokenizer in this folder (looked for ") + kLookedFor + ")");
        return load_file(*file);
    }
    return load_file(path);
}

void copy_tokenizer_files(const std::string& path, const std::string& folder) {
    std::error_code ec;
    fs::path file(path);
    if (fs::is_directory(file, ec)) {
        const std::optional<std::string> found = find_tokenizer(path);
        if (!found) bad_file(path, std::string("no tokenizer in this folder (looked for ") + kLookedFor + ")");
        file = *found;
    }
    const std::string name = lower(file.filename().string()), ext = lower(file.extension().string());
    std::vector<std::pair<fs::path, std::string>> copies;  // (from, to name)
    if (name == "merges.txt" || ext == ".bpe") {
        copies = {{partner(file, {"vocab.json", "encoder.json"}, "merge rules need their vocabulary"), "vocab.json"},
                  {file, "merges.txt"}};
    } else if (ext == ".json" && (name == "vocab.json" || name == "encoder.json")) {
        copies = {{file, "vocab.json"}, {partner(file, {"merges.txt", "vocab.bpe"}, "a GPT-2 vocabulary needs its merge rules"), "merges.txt"}};
    } else if (ext == ".json") {
        copies = {{file, "tokenizer.json"}};
    } else if (ext == ".txt") {
        if (read_file(file.string(), "tokenizer file").compare(0, 8, "#version") == 0)
            copies = {{partner(file, {"vocab.json", "encoder.json"}, "merge rules need their vocabulary"), "vocab.json"},
                      {file, "merges.txt"}};
        else {
            copies = {{file, "vocab.txt"}};
            if (is_file(file.parent_path() / "tokenizer_config.json"))
                copies.push_back({file.parent_path() / "tokenizer_config.json", "tokenizer_config.json"});
        }
    } else if (ext == ".bin") {
        copies = {{file, "tokenizer.bin"}};
    } else {
        bad_file(file.string(), std::string("not a tokenizer file attend knows (") + kLookedFor + ")");
    }
    fs::create_directories(folder, ec);
    for (const auto& [from, to] : copies) {
        const fs::path target = fs::path(folder) / to;
        if (fs::exists(target, ec) && fs::equivalent(from, target, ec)) continue;  // already there
        // Written atomically as every file attend writes (core/atomic_file.hpp): a reader of
        // the folder never sees half a vocabulary.
        std::FILE* in = std::fopen(from.string().c_str(), "rb");
        if (!in) bad_file(from.string(), "cannot open to copy to " + target.string() + ": " + std::strerror(errno));
        const std::unique_ptr<std::FILE, int (*)(std::FILE*)> closing(in, std::fclose);
        write_atomically(target.string(), [&](std::FILE* out) {
            char buffer[1 << 16];
            for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, in)) > 0;)
                if (std::fwrite(buffer, 1, n, out) != n) return false;
            return std::ferror(in) == 0;
        });
    }
}

namespace tokenizers {
std::unique_ptr<Tokenizer> parse_hf_tokenizer_json(std::string_view tokenizer_json, const std::string& origin) {
    const json j = parse_json(tokenizer_json, origin);
    try {
        return from_tokenizer_json(j, tokenizer_json, origin);
    } catch (const json::exception& e) {
        bad_file(origin, std::string("malformed tokenizer.json: ") + e.what());
    }
}
}  // namespace tokenizers

// ---- streaming ---------------------------------------------------------------------------

std::string DecodeStream::push(int64_t id) {
    ids_.push_back(id);
    const std::string text = tokenizer_.decode(ids_, skip_special_);
    size_t stable = text.size();
    // WordPiece and the general pipeline's decoders may rewrite what came before (a space
    // before "##"-less tokens, cleanup, Metaspace's first-token strip): only what the previous
    // ids already decoded to is final. The byte-exact kinds concatenate.
    const std::string_view kind = tokenizer_.kind();
    if (kind != "gpt2-bpe" && kind != "llama2c-bpe" && kind != "char" && kind != "gguf-bpe") {
        const std::string before = tokenizer_.decode({ids_.begin(), ids_.end() - 1}, skip_special_);
        stable = std::mismatch(text.begin(), text.end(), before.begin(), before.end()).first - text.begin();
    }
    if (stable <= emitted_) return {};
    const std::string out = utf8_.push(text.substr(emitted_, stable - emitted_));
    emitted_ = stable;
    return out;
}

std::string DecodeStream::finish() {
    const std::string text = tokenizer_.decode(ids_, skip_special_);
    std::string out = emitted_ < text.size() ? utf8_.push(text.substr(emitted_)) : std::string();
    emitted_ = std::max(emitted_, text.size());
    return out + utf8_.finish();
}

}  // namespace attend
