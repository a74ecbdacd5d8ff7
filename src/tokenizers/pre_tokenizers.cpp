// tokenizers/pre_tokenizers.cpp — tokenizer.json's pre-tokenizers: Split (regex or string, with
// its behavior and invert), ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit,
// Punctuation, BertPreTokenizer, CharDelimiterSplit and Sequence, as Hugging Face's
// pre_tokenizers/*.rs split pieces (the splitting rules are SplitDelimiterBehavior's).
#include <functional>

#include "attend/error.hpp"
#include "tokenizers/byte_level.hpp"
#include "tokenizers/common.hpp"
#include "tokenizers/pipeline_parts.hpp"
#include "tokenizers/regex.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::tokenizers {
namespace {

using json = nlohmann::json;

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Span {
    size_t b, e;
    bool match;
};

// Matches (and the gaps between them, as non-matches) covering text → pieces, by behavior.
void apply_behavior(const Piece& piece, std::vector<Span> spans, Behavior behavior, bool invert, std::vector<Piece>& out) {
    if (invert)
        for (Span& s : spans) s.match = !s.match;
    std::vector<Span> merged;
    bool previous = false;
    switch (behavior) {
        case Behavior::Removed:
            for (const Span& s : spans)
                if (!s.match) merged.push_back(s);
            break;
        case Behavior::Isolated:
            merged = spans;
            break;
        case Behavior::MergedWithPrevious:
            for (const Span& s : spans) {
                if (s.match && !previous && !merged.empty()) merged.back().e = s.e;
                else merged.push_back(s);
                previous = s.match;
            }
            break;
        case Behavior::MergedWithNext:
            for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
                if (it->match && !previous && !merged.empty()) merged.back().b = it->b;
                else merged.push_back(*it);
                previous = it->match;
            }
            std::reverse(merged.begin(), merged.end());
            break;
        case Behavior::Contiguous:
            for (const Span& s : spans) {
                if (s.match == previous && !merged.empty()) merged.back().e = s.e;
                else merged.push_back(s);
                previous = s.match;
            }
            break;
    }
    for (const Span& s : merged)
        if (s.e > s.b) out.push_back({piece.text.substr(s.b, s.e - s.b), piece.at_start && s.b == 0});
}

// Spans from matched ranges (sorted, disjoint) with the gaps filled in.
std::vector<Span> with_gaps(const std::vector<std::pair<size_t, size_t>>& matches, size_t size) {
    std::vector<Span> spans;
    size_t at = 0;
    for (const auto& [b, e] : matches) {
        if (b > at) spans.push_back({at, b, false});
        spans.push_back({b, e, true});
        at = e;
    }
    if (at < size) spans.push_back({at, size, false});
    return spans;
}

// Each character for which pred holds is a match of its own (a bad byte never is).
std::vector<Span> char_spans(std::string_view text, const std::function<bool(char32_t)>& pred) {
    std::vector<std::pair<size_t, size_t>> matches;
    for (size_t i = 0; i < text.size();) {
        const unicode::Utf8Step s = unicode::next_utf8(text, i);
        if (s.valid && pred(s.cp)) matches.emplace_back(i, i + s.len);
        i += s.len;
    }
    return with_gaps(matches, text.size());
}

void split_all(std::vector<Piece>& pieces, const std::function<void(const Piece&, std::vector<Piece>&)>& f) {
    std::vector<Piece> out;
    out.reserve(pieces.size());
    for (const Piece& p : pieces) f(p, out);
    pieces.swap(out);
}

bool is_punctuation(char32_t c) {  // Rust: is_ascii_punctuation() || Unicode P*
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126) ||
           unicode::is_punctuation(c);
}
bool is_numeric(char32_t c) { return unicode::is_number(c); }  // Rust's char::is_numeric: N*

class Split final : public PreTokenizer {
public:
    Split(const std::string& pattern, Behavior behavior, bool invert, const std::string& origin, const std::string& what)
        : regex_(pattern, origin, what), behavior_(behavior), invert_(invert) {}
    void split(std::vector<Piece>& pieces) const override {
        split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
            apply_behavior(p, with_gaps(regex_.find_all(p.text), p.text.size()), behavior_, invert_, out);
        });
    }

private:
    Regex regex_;
    Behavior behavior_;
    bool invert_;
};

class CharSplit final : public PreTokenizer {
public:
    CharSplit(std::function<bool(char32_t)> pred, Behavior behavior) : pred_(std::move(pred)), behavior_(behavior) {}
    void split(std::vector<Piece>& pieces) const override {
        split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
            apply_behavior(p, char_spans(p.text, pred_), behavior_, false, out);
        });
    }

private:
    std::function<bool(char32_t)> pred_;
    Behavior behavior_;
};

// ByteLevel: a space in front (add_prefix_space) of each piece that lacks one, GPT-2's pattern
// (use_regex), then every byte written as its printable character ('Ġ' for ' ').
class ByteLevel final : public PreTokenizer {
public:
    ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
    void split(std::vector<Piece>& pieces) const override {
        split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
            std::string text = add_prefix_space_ && (p.text.empty() || p.text[0] != ' ') ? " " + p.text : p.text;
            if (use_regex_) {
                for (std::string_view s : gpt2_pretokenize(text)) out.push_back({vocab_text_from_bytes(s), p.at_start});
            } else if (!text.empty()) {
                out.push_back({vocab_text_from_bytes(text), p.at_start});
            }
        });
    }

private:
    bool add_prefix_space_, use_regex_;
};

class Metaspace final : public PreTokenizer {
public:
    enum class Prepend { Always, First, Never };
    Metaspace(std::string replacement, Prepend scheme, bool split)
        : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
    void split(std::vector<Piece>& pieces) const override {
        split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
            std::string t;
            for (char c : p.text) {
                if (c == ' ') t += replacement_;
                else t += c;
            }
            const bool starts = t.compare(0, replacement_.size(), replacement_) == 0;
            if (!starts && (scheme_ == Prepend::Always || (scheme_ == Prepend::First && p.at_start))) t = replacement_ + t;
            if (!split_) {
                if (!t.empty()) out.push_back({t, p.at_start});
                return;
            }
            // MergedWithNext on the replacement: each piece starts at a replacement.
            size_t begin = 0;
            for (size_t at = t.find(replacement_, 1); at != std::string::npos; at = t.find(replacement_, at + 1)) {
                if (at > begin) out.push_back({t.substr(begin, at - begin), p.at_start && begin == 0});
                begin = at;
            }
            if (begin < t.size()) out.push_back({t.substr(begin), p.at_start && begin == 0});
        });
    }

private:
    std::string replacement_;
    Prepend scheme_;
    bool split_;
};

class PreTokenizerSequence final : public PreTokenizer {
public:
    explicit PreTokenizerSequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
    void split(std::vector<Piece>& pieces) const override {
        for (const auto& s : steps_) s->split(pieces);
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

Behavior read_behavior(const json& j, Behavior fallback, const std::string& origin, const std::string& what) {
    if (!j.contains("behavior")) return fallback;
    const std::string b = j["behavior"].is_string() ? j["behavior"].get<std::string>() : "";
    if (b == "Removed") return Behavior::Removed;
    if (b == "Isolated") return Behavior::Isolated;
    if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (b == "MergedWithNext") return Behavior::MergedWithNext;
    if (b == "Contiguous") return Behavior::Contiguous;
    bad_file(origin, what + " \"behavior\" " + quote_token(b) +
                         " is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

// Rust regex's \w (Unicode): letters, marks, numbers, connector punctuation, ZWNJ/ZWJ.
const char* const kWord = "\\p{L}\\p{M}\\p{N}\\p{Pc}\\x{200C}\\x{200D}";

}  // namespace

std::unique_ptr<PreTokenizer> read_pre_tokenizer(const json& j, const std::string& origin) {
    if (j.is_null()) return nullptr;
    const std::string type = component_type(j, origin, "pre_tokenizer");
    const std::string what = "pre_tokenizer " + type;
    if (type == "Split") {
        if (!j.contains("pattern")) bad_file(origin, what + " has no \"pattern\"");
        return std::make_unique<Split>(read_pattern(j["pattern"], origin, what), read_behavior(j, Behavior::Isolated, origin, what),
                                       flag(j, "invert", false, origin, what), origin, what);
    }
    if (type == "ByteLevel")
        return std::make_unique<ByteLevel>(flag(j, "add_prefix_space", true, origin, what), flag(j, "use_regex", true, origin, what));
    if (type == "Metaspace") {
        std::string replacement = j.contains("replacement") && j["replacement"].is_string() ? j["replacement"].get<std::string>() : "\xE2\x96\x81";
        if (replacement.empty() || unicode::next_utf8(replacement, 0).len != replacement.size())
            bad_file(origin, what + " \"replacement\" must be one character");
        Metaspace::Prepend scheme = Metaspace::Prepend::Always;
        if (j.contains("prepend_scheme")) {
            const std::string s = j["prepend_scheme"].is_string() ? j["prepend_scheme"].get<std::string>() : "";
            if (s == "always") scheme = Metaspace::Prepend::Always;
            else if (s == "first") scheme = Metaspace::Prepend::First;
            else if (s == "never") scheme = Metaspace::Prepend::Never;
            else bad_file(origin, what + " \"prepend_scheme\" " + quote_token(s) + " is not always, first or never");
        } else if (!flag(j, "add_prefix_space", true, origin, what)) {
            scheme = Metaspace::Prepend::Never;  // the older spelling
        }
        return std::make_unique<Metaspace>(replacement, scheme, flag(j, "split", true, origin, what));
    }
    if (type == "Digits")
        return std::make_unique<CharSplit>(is_numeric, flag(j, "individual_digits", false, origin, what) ? Behavior::Isolated
                                                                                                          : Behavior::Contiguous);
    if (type == "Whitespace")  // \w+|[^\w\s]+, the rest removed
        return std::make_unique<Split>(std::string("[") + kWord + "]+|[^" + kWord + "\\s]+", Behavior::Removed, true, origin, what);
    if (type == "WhitespaceSplit") return std::make_unique<CharSplit>(unicode::is_white_space, Behavior::Removed);
    if (type == "Punctuation")
        return std::make_unique<CharSplit>(is_punctuation, read_behavior(j, Behavior::Isolated, origin, what));
    if (type == "BertPreTokenizer") {
        std::vector<std::unique_ptr<PreTokenizer>> steps;
        steps.push_back(std::make_unique<CharSplit>(unicode::is_white_space, Behavior::Removed));
        steps.push_back(std::make_unique<CharSplit>(is_punctuation, Behavior::Isolated));
        return std::make_unique<PreTokenizerSequence>(std::move(steps));
    }
    if (type == "CharDelimiterSplit") {
        const std::string d = read_string(j, "delimiter", origin, what);
        const unicode::Utf8Step s = unicode::next_utf8(d, 0);
        if (d.empty() || s.len != d.size() || !s.valid) bad_file(origin, what + " \"delimiter\" must be one character");
        const char32_t c = s.cp;
        return std::make_unique<CharSplit>([c](char32_t x) { return x == c; }, Behavior::Removed);
    }
    if (type == "Sequence") {
        if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array()) bad_file(origin, what + " has no \"pretokenizers\" list");
        std::vector<std::unique_ptr<PreTokenizer>> steps;
        for (const json& s : j["pretokenizers"])
            if (auto p = read_pre_tokenizer(s, origin)) steps.push_back(std::move(p));
        return std::make_unique<PreTokenizerSequence>(std::move(steps));
    }
    bad_file(origin, "pre_tokenizer type " + quote_token(type) +
                         " is not supported (attend reads Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit,"
                         " Punctuation, BertPreTokenizer, CharDelimiterSplit, Sequence)");
}

std::unique_ptr<PreTokenizer> make_regex_byte_level(const std::vector<std::string>& patterns, bool gpt2_regex,
                                                    const std::string& origin) {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const std::string& p : patterns)
        steps.push_back(std::make_unique<Split>(p, Behavior::Isolated, false, origin, "pre-tokenizer"));
    steps.push_back(std::make_unique<ByteLevel>(false, gpt2_regex));
    return std::make_unique<PreTokenizerSequence>(std::move(steps));
}

}  // namespace attend::tokenizers
