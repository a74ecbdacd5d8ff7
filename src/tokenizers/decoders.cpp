// tokenizers/decoders.cpp — tokenizer.json's decoders: ByteLevel, Metaspace, WordPiece,
// ByteFallback, Fuse, Strip, Replace, BPEDecoder and Sequence, each Hugging Face's decode_chain
// (decoders/*.rs). One difference on purpose: bytes that do not make UTF-8 (ByteLevel,
// ByteFallback) are returned as they are, not as U+FFFD, so that decode(encode(x)) == x for any
// bytes and DecodeStream can hold a partial character back, as the other attend tokenizers do.
#include "attend/error.hpp"
#include "tokenizers/byte_level.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/pipeline_parts.hpp"
#include "tokenizers/regex.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

class ByteLevelDecoder final : public Decoder {
public:
    void decode(std::vector<std::string>& tokens) const override {
        std::string out;
        for (const std::string& t : tokens) {
            // A token with a character outside the byte alphabet (an added token) stays as written.
            if (const auto bytes = bytes_from_vocab_text(t)) out += *bytes;
            else out += t;
        }
        tokens.assign(1, out);
    }
};

class MetaspaceDecoder final : public Decoder {
public:
    MetaspaceDecoder(std::string replacement, bool strip_first) : replacement_(std::move(replacement)), strip_first_(strip_first) {}
    void decode(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string out;
            const std::string& t = tokens[i];
            for (size_t at = 0; at < t.size();) {
                if (t.compare(at, replacement_.size(), replacement_) == 0) {
                    if (!(i == 0 && strip_first_)) out += ' ';
                    at += replacement_.size();
                } else {
                    out += t[at++];
                }
            }
            tokens[i] = out;
        }
    }

private:
    std::string replacement_;
    bool strip_first_;
};

class WordPieceDecoder final : public Decoder {
public:
    WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
    void decode(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            if (i != 0) {
                if (t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
                else t = " " + t;
            }
            if (cleanup_) t = cleanup(t);
        }
    }
    // Hugging Face's cleanup(): spaces before punctuation and contractions come off.
    static std::string cleanup(std::string s) {
        static const std::pair<const char*, const char*> rules[] = {
            {" .", "."},     {" ?", "?"},     {" !", "!"},     {" ,", ","},     {" ' ", "'"},         {" n't", "n't"},
            {" 'm", "'m"},   {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
        for (const auto& [from, to] : rules) {
            std::string out;
            const std::string_view f(from);
            size_t at = 0;
            for (size_t k = s.find(f); k != std::string::npos; k = s.find(f, at)) {
                out.append(s, at, k - at);
                out += to;
                at = k + f.size();
            }
            out.append(s, at, std::string::npos);
            s.swap(out);
        }
        return s;
    }

private:
    std::string prefix_;
    bool cleanup_;
};

// Runs of <0xXX> tokens become their bytes.
class ByteFallbackDecoder final : public Decoder {
public:
    void decode(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        std::string bytes;
        for (const std::string& t : tokens) {
            unsigned b = 0;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit(uint8_t(t[3])) &&
                std::isxdigit(uint8_t(t[4]))) {
                b = unsigned(std::stoul(t.substr(3, 2), nullptr, 16));
                bytes += char(b);
                continue;
            }
            if (!bytes.empty()) out.push_back(std::move(bytes));
            bytes.clear();
            out.push_back(t);
        }
        if (!bytes.empty()) out.push_back(std::move(bytes));
        tokens.swap(out);
    }
};

class Fuse final : public Decoder {
public:
    void decode(std::vector<std::string>& tokens) const override {
        std::string out;
        for (const std::string& t : tokens) out += t;
        tokens.assign(1, out);
    }
};

class StripDecoder final : public Decoder {
public:
    StripDecoder(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
    void decode(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) {
            size_t b = 0, e = t.size();
            for (size_t k = 0; k < start_ && t.compare(b, content_.size(), content_) == 0 && b < e; ++k) b += content_.size();
            for (size_t k = 0; k < stop_ && e >= b + content_.size() && t.compare(e - content_.size(), content_.size(), content_) == 0; ++k)
                e -= content_.size();
            t = t.substr(b, e - b);
        }
    }

private:
    std::string content_;
    size_t start_, stop_;
};

class ReplaceDecoder final : public Decoder {
public:
    ReplaceDecoder(const std::string& pattern, std::string content, const std::string& origin)
        : regex_(pattern, origin, "decoder Replace"), content_(std::move(content)) {}
    void decode(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) {
            std::string out;
            size_t at = 0;
            for (const auto& [b, e] : regex_.find_all(t)) {
                out.append(t, at, b - at);
                out += content_;
                at = e;
            }
            out.append(t, at, std::string::npos);
            t.swap(out);
        }
    }

private:
    Regex regex_;
    std::string content_;
};

class BpeDecoder final : public Decoder {
public:
    explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
    void decode(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            const std::string with = i + 1 == tokens.size() ? "" : " ";
            for (size_t k = t.find(suffix_); !suffix_.empty() && k != std::string::npos; k = t.find(suffix_, k + with.size()))
                t.replace(k, suffix_.size(), with);
        }
    }

private:
    std::string suffix_;
};

class DecoderSequence final : public Decoder {
public:
    explicit DecoderSequence(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
    void decode(std::vector<std::string>& tokens) const override {
        for (const auto& s : steps_) s->decode(tokens);
    }

private:
    std::vector<std::unique_ptr<Decoder>> steps_;
};

size_t count(const json& j, const char* key, const std::string& origin, const std::string& what) {
    if (!j.contains(key)) return 0;
    if (!j[key].is_number_unsigned() || j[key].get<uint64_t>() > 1000000)
        bad_file(origin, what + " \"" + key + "\" is not a count");
    return j[key].get<size_t>();
}

}  // namespace

std::unique_ptr<Decoder> read_decoder(const json& j, const std::string& origin) {
    if (j.is_null()) return nullptr;
    const std::string type = component_type(j, origin, "decoder");
    const std::string what = "decoder " + type;
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace") {
        const std::string replacement = j.contains("replacement") && j["replacement"].is_string() ? j["replacement"].get<std::string>() : "\xE2\x96\x81";
        bool strip_first = flag(j, "add_prefix_space", true, origin, what);
        if (j.contains("prepend_scheme")) strip_first = !(j["prepend_scheme"].is_string() && j["prepend_scheme"] == "never");
        return std::make_unique<MetaspaceDecoder>(replacement, strip_first);
    }
    if (type == "WordPiece")
        return std::make_unique<WordPieceDecoder>(j.contains("prefix") && j["prefix"].is_string() ? j["prefix"].get<std::string>() : "##",
                                                  flag(j, "cleanup", true, origin, what));
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<Fuse>();
    if (type == "Strip") {
        const std::string content = read_string(j, "content", origin, what);
        return std::make_unique<StripDecoder>(content, count(j, "start", origin, what), count(j, "stop", origin, what));
    }
    if (type == "Replace") {
        if (!j.contains("pattern")) bad_file(origin, what + " has no \"pattern\"");
        return std::make_unique<ReplaceDecoder>(read_pattern(j["pattern"], origin, what), read_string(j, "content", origin, what), origin);
    }
    if (type == "BPEDecoder")
        return std::make_unique<BpeDecoder>(j.contains("suffix") && j["suffix"].is_string() ? j["suffix"].get<std::string>() : "</w>");
    if (type == "Sequence") {
        if (!j.contains("decoders") || !j["decoders"].is_array()) bad_file(origin, what + " has no \"decoders\" list");
        std::vector<std::unique_ptr<Decoder>> steps;
        for (const json& s : j["decoders"])
            if (auto d = read_decoder(s, origin)) steps.push_back(std::move(d));
        return std::make_unique<DecoderSequence>(std::move(steps));
    }
    bad_file(origin, "decoder type " + quote_token(type) +
                         " is not supported (attend reads ByteLevel, Metaspace, WordPiece, ByteFallback, Fuse, Strip,"
                         " Replace, BPEDecoder, Sequence)");
}

std::unique_ptr<Decoder> make_byte_level_decoder() { return std::make_unique<ByteLevelDecoder>(); }

}  // namespace attend::tokenizers
