// tokenizers/normalizers.cpp — tokenizer.json's normalizers: NFC, NFD, NFKC, NFKD, Lowercase,
// Strip, StripAccents, Replace, Prepend, BertNormalizer and Sequence, as Hugging Face applies
// them (normalizers/*.rs). Precompiled (SentencePiece's charsmap) is refused.
#include "attend/error.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/pipeline_parts.hpp"
#include "tokenizers/regex.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

// Applies f to each code point of the valid UTF-8 runs; bad bytes stay.
template <class F>
std::string map_chars(std::string_view text, F&& f) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const unicode::Utf8Step s = unicode::next_utf8(text, i);
        if (s.valid) f(s.cp, out);
        else out += text[i];
        i += s.len;
    }
    return out;
}

class UnicodeForm final : public Normalizer {
public:
    explicit UnicodeForm(unicode::Form f) : form_(f) {}
    std::string normalize(std::string text) const override { return unicode::normalize(text, form_); }

private:
    unicode::Form form_;
};

class Lowercase final : public Normalizer {
public:
    std::string normalize(std::string text) const override {
        std::u32string low;
        return map_chars(text, [&](char32_t c, std::string& out) {
            low.clear();
            unicode::append_lower(c, low);
            for (char32_t l : low) unicode::append_utf8(out, l);
        });
    }
};

// Rust's char::is_whitespace is Unicode's White_Space.
class Strip final : public Normalizer {
public:
    Strip(bool left, bool right) : left_(left), right_(right) {}
    std::string normalize(std::string text) const override {
        size_t b = 0, e = text.size();
        if (left_)
            while (b < e) {
                const unicode::Utf8Step s = unicode::next_utf8(text, b);
                if (!s.valid || !unicode::is_white_space(s.cp)) break;
                b += s.len;
            }
        if (right_)
            while (e > b) {
                size_t k = e - 1;  // back to the first byte of the last character
                while (k > b && (uint8_t(text[k]) & 0xC0) == 0x80) --k;
                const unicode::Utf8Step s = unicode::next_utf8(text, k);
                if (!s.valid || k + s.len != e || !unicode::is_white_space(s.cp)) break;
                e = k;
            }
        return text.substr(b, e - b);
    }

private:
    bool left_, right_;
};

// Drops nonspacing marks (Mn): meant to follow NFD/NFKD.
class StripAccents final : public Normalizer {
public:
    std::string normalize(std::string text) const override {
        return map_chars(text, [](char32_t c, std::string& out) {
            if (!unicode::is_nonspacing_mark(c)) unicode::append_utf8(out, c);
        });
    }
};

class Replace final : public Normalizer {
public:
    Replace(const std::string& pattern, std::string content, const std::string& origin)
        : regex_(pattern, origin, "normalizer Replace"), content_(std::move(content)) {}
    std::string normalize(std::string text) const override {
        std::string out;
        size_t at = 0;
        for (const auto& [b, e] : regex_.find_all(text)) {
            out.append(text, at, b - at);
            out += content_;
            at = e;
        }
        out.append(text, at, std::string::npos);
        return out;
    }

private:
    Regex regex_;
    std::string content_;
};

// Prepend: only to text that is not empty.
class Prepend final : public Normalizer {
public:
    explicit Prepend(std::string p) : prefix_(std::move(p)) {}
    std::string normalize(std::string text) const override { return text.empty() ? text : prefix_ + text; }

private:
    std::string prefix_;
};

class NormalizerSequence final : public Normalizer {
public:
    explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
    std::string normalize(std::string text) const override {
        for (const auto& s : steps_) text = s->normalize(std::move(text));
        return text;
    }

private:
    std::vector<std::unique_ptr<Normalizer>> steps_;
};

// BertNormalizer: clean_text (drop NUL, U+FFFD, controls; whitespace → ' '), Chinese characters
// padded with spaces, strip_accents (NFD + drop Mn; null: follows lowercase), lowercase.
class BertNormalizer final : public Normalizer {
public:
    BertNormalizer(bool clean, bool chinese, bool strip, bool lower) : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
    std::string normalize(std::string text) const override {
        std::string t = map_chars(text, [&](char32_t c, std::string& out) {
            if (clean_) {
                if (c == 0 || c == 0xFFFD) return;
                const bool ws = c == U'\t' || c == U'\n' || c == U'\r' || unicode::is_white_space(c);
                if (ws) {
                    out += ' ';
                    return;
                }
                const unicode::Class k = unicode::classify(c);
                if (k == unicode::Class::Control || k == unicode::Class::Format || k == unicode::Class::Unassigned) return;
            }
            if (chinese_ && is_cjk(c)) {
                out += ' ';
                unicode::append_utf8(out, c);
                out += ' ';
                return;
            }
            unicode::append_utf8(out, c);
        });
        if (strip_) t = StripAccents().normalize(unicode::normalize(t, unicode::Form::NFD));
        if (lower_) t = Lowercase().normalize(std::move(t));
        return t;
    }

private:
    static bool is_cjk(char32_t c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
               (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
               (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }
    bool clean_, chinese_, strip_, lower_;
};

}  // namespace

std::string component_type(const json& j, const std::string& origin, const char* component) {
    if (!j.is_object()) bad_file(origin, std::string(component) + " is not a JSON object");
    if (!j.contains("type") || !j["type"].is_string()) bad_file(origin, std::string(component) + " has no \"type\"");
    return j["type"].get<std::string>();
}

// {"String": "x"} or {"Regex": "x"} → a PCRE2 pattern.
std::string read_pattern(const json& j, const std::string& origin, const std::string& what) {
    if (j.is_object() && j.contains("String") && j["String"].is_string()) return regex_quote(j["String"].get<std::string>());
    if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) return j["Regex"].get<std::string>();
    bad_file(origin, what + " \"pattern\" is neither {\"String\": ...} nor {\"Regex\": ...}");
}

std::string read_string(const json& j, const char* key, const std::string& origin, const std::string& what) {
    if (!j.contains(key) || !j[key].is_string()) bad_file(origin, what + " has no string \"" + key + "\"");
    return j[key].get<std::string>();
}

std::unique_ptr<Normalizer> read_normalizer(const json& j, const std::string& origin) {
    if (j.is_null()) return nullptr;
    const std::string type = component_type(j, origin, "normalizer");
    const std::string what = "normalizer " + type;
    if (type == "NFC") return std::make_unique<UnicodeForm>(unicode::Form::NFC);
    if (type == "NFD") return std::make_unique<UnicodeForm>(unicode::Form::NFD);
    if (type == "NFKC") return std::make_unique<UnicodeForm>(unicode::Form::NFKC);
    if (type == "NFKD") return std::make_unique<UnicodeForm>(unicode::Form::NFKD);
    if (type == "Lowercase") return std::make_unique<Lowercase>();
    if (type == "StripAccents") return std::make_unique<StripAccents>();
    if (type == "Strip")
        return std::make_unique<Strip>(flag(j, "strip_left", true, origin, what), flag(j, "strip_right", true, origin, what));
    if (type == "Replace") {
        if (!j.contains("pattern")) bad_file(origin, what + " has no \"pattern\"");
        return std::make_unique<Replace>(read_pattern(j["pattern"], origin, what), read_string(j, "content", origin, what), origin);
    }
    if (type == "Prepend") return std::make_unique<Prepend>(read_string(j, "prepend", origin, what));
    if (type == "BertNormalizer") {
        const bool lower = flag(j, "lowercase", true, origin, what);
        return std::make_unique<BertNormalizer>(flag(j, "clean_text", true, origin, what),
                                                flag(j, "handle_chinese_chars", true, origin, what),
                                                flag(j, "strip_accents", lower, origin, what), lower);
    }
    if (type == "Sequence") {
        if (!j.contains("normalizers") || !j["normalizers"].is_array()) bad_file(origin, what + " has no \"normalizers\" list");
        std::vector<std::unique_ptr<Normalizer>> steps;
        for (const json& s : j["normalizers"])
            if (auto n = read_normalizer(s, origin)) steps.push_back(std::move(n));
        return std::make_unique<NormalizerSequence>(std::move(steps));
    }
    bad_file(origin, "normalizer type " + quote_token(type) +
                         " is not supported (attend reads NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace,"
                         " Prepend, BertNormalizer, Sequence)");
}

}  // namespace attend::tokenizers
