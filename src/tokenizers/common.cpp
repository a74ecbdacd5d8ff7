// tokenizers/common.cpp — file errors, reading, quoting, special tokens, post-processors.
#include "tokenizers/common.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <unordered_map>

#include "attend/error.hpp"

namespace attend::tokenizers {

bool flag(const nlohmann::json& j, const char* key, bool fallback, const std::string& origin, const std::string& what) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean()) bad_file(origin, what + " \"" + key + "\" is not true or false");
    return j[key].get<bool>();
}

nlohmann::json parse_json(std::string_view text, const std::string& origin) {
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        bad_file(origin, "not valid JSON (syntax error at byte " + std::to_string(e.byte) + ")");
    } catch (const nlohmann::json::exception& e) {  // a number too large for a double (out_of_range 406)
        bad_file(origin, std::string("not valid JSON: ") + e.what());
    }
}

namespace {

// nlohmann's SAX interface: one call per token of the JSON text. Depth 0 must open an object;
// depth 1 holds keys, each followed by an integer.
class VocabReader final : public nlohmann::json_sax<nlohmann::json> {
public:
    explicit VocabReader(bool first_only = false) : first_only_(first_only) {}
    std::vector<std::pair<std::string, int64_t>> vocab;
    std::string problem;              // set when a handler stopped the parse: what follows `what`
    std::optional<size_t> syntax_at;  // byte of a syntax error

    bool null() override { return not_an_id(); }
    bool boolean(bool) override { return not_an_id(); }
    bool number_integer(number_integer_t v) override { return id(v); }
    bool number_unsigned(number_unsigned_t v) override {
        return v > uint64_t(INT64_MAX) ? not_an_id() : id(int64_t(v));
    }
    bool number_float(number_float_t, const string_t&) override { return not_an_id(); }
    bool string(string_t&) override { return not_an_id(); }
    bool binary(binary_t&) override { return not_an_id(); }
    bool start_object(std::size_t) override {
        if (depth_ != 0) return not_an_id();
        depth_ = 1;
        return true;
    }
    bool key(string_t& k) override {
        key_ = std::move(k);
        return true;
    }
    bool end_object() override {
        --depth_;
        return true;
    }
    bool start_array(std::size_t) override { return not_an_id(); }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override {
        syntax_at = position;
        return false;
    }

private:
    bool id(int64_t v) {
        if (depth_ != 1) return not_an_object();
        vocab.emplace_back(std::move(key_), v);
        return !first_only_;  // a sniff stops at the first entry
    }
    bool not_an_id() {
        if (depth_ != 1) return not_an_object();
        problem = ": the id of " + quote_token(key_) + " is not an integer";
        return false;
    }
    bool not_an_object() {
        problem = " is not a JSON object of token → id";
        return false;
    }
    bool first_only_;
    int depth_ = 0;
    std::string key_;
};

}  // namespace

std::vector<std::pair<std::string, int64_t>> parse_vocab_json(std::string_view text, const std::string& origin,
                                                              const std::string& what) {
    VocabReader reader;
    if (!nlohmann::json::sax_parse(text.begin(), text.end(), &reader)) {
        if (reader.syntax_at) bad_file(origin, "not valid JSON (syntax error at byte " + std::to_string(*reader.syntax_at) + ")");
        bad_file(origin, what + reader.problem);
    }
    std::vector<std::pair<std::string, int64_t>>& vocab = reader.vocab;
    if (vocab.empty()) bad_file(origin, what + " is empty");
    // A token given twice: the last id stands. Rare, so look for one before rebuilding.
    std::unordered_map<std::string_view, size_t> last;
    last.reserve(vocab.size());
    bool repeated = false;
    for (size_t i = 0; i < vocab.size(); ++i) {
        const auto [it, fresh] = last.try_emplace(vocab[i].first, i);
        if (!fresh) {
            it->second = i;
            repeated = true;
        }
    }
    if (!repeated) return std::move(vocab);
    std::vector<bool> keep(vocab.size());
    for (size_t i = 0; i < vocab.size(); ++i) keep[i] = last.at(vocab[i].first) == i;  // before any key moves
    std::vector<std::pair<std::string, int64_t>> kept;
    for (size_t i = 0; i < vocab.size(); ++i)
        if (keep[i]) kept.push_back(std::move(vocab[i]));
    return kept;
}

bool starts_as_vocab_json(std::string_view text) {
    VocabReader reader(/*first_only=*/true);
    nlohmann::json::sax_parse(text.begin(), text.end(), &reader);  // stops at the first entry
    return !reader.vocab.empty();
}

std::string quote_token(std::string_view text, size_t max_bytes) {
    std::string out = "\"";
    size_t i = 0;
    for (; i < text.size() && i < max_bytes; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c == '"' || c == '\\') { out += '\\'; out += char(c); }
        else if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    out += '"';
    if (i < text.size()) out += "...";
    return out;
}

std::vector<Segment> split_on_special(std::string_view text, const std::vector<SpecialToken>& specials) {
    std::vector<Segment> out;
    size_t start = 0, pos = 0;
    while (pos < text.size()) {
        const SpecialToken* best = nullptr;
        for (const SpecialToken& s : specials)
            if (!s.text.empty() && text.compare(pos, s.text.size(), s.text) == 0 &&
                (!best || s.text.size() > best->text.size()))
                best = &s;
        if (!best) {
            ++pos;
            continue;
        }
        if (pos > start) out.push_back({text.substr(start, pos - start), -1});
        out.push_back({best->text, best->id});
        pos += best->text.size();
        start = pos;
    }
    if (start < text.size()) out.push_back({text.substr(start), -1});
    return out;
}

void check_id_range(int64_t max_id, size_t tokens, const std::string& origin) {
    if (max_id >= 2 * int64_t(tokens) + 256)
        bad_file(origin, "token ids are far from consecutive: id " + std::to_string(max_id) + " among " +
                             std::to_string(tokens) + " tokens");
}

namespace {

int64_t id_of(const std::string& name, const std::string& origin,
              const std::function<std::optional<int64_t>(const std::string&)>& lookup) {
    const auto id = lookup(name);
    if (!id) bad_file(origin, "post_processor names the token " + quote_token(name) + ", which is not in the vocabulary");
    return *id;
}

void add_post_processor(const nlohmann::json& pp, const std::string& origin, Template& t,
                        const std::function<std::optional<int64_t>(const std::string&)>& lookup) {
    if (pp.is_null()) return;
    if (!pp.is_object() || !pp.contains("type") || !pp["type"].is_string())
        bad_file(origin, "post_processor has no \"type\"");
    const std::string type = pp["type"];
    if (type == "ByteLevel") return;  // adjusts offsets only; adds no tokens
    if (type == "Sequence") {
        if (!pp.contains("processors") || !pp["processors"].is_array())
            bad_file(origin, "post_processor Sequence has no \"processors\" list");
        for (const auto& p : pp["processors"]) add_post_processor(p, origin, t, lookup);
        return;
    }
    if (type == "BertProcessing" || type == "RobertaProcessing") {  // "cls": ["[CLS]", 101]
        for (const char* key : {"cls", "sep"}) {
            const auto& v = pp.contains(key) ? pp[key] : nlohmann::json();
            if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer())
                bad_file(origin, "post_processor " + type + " needs \"" + key + "\": [token, id]");
            (std::string(key) == "cls" ? t.before : t.after).push_back(v[1].get<int64_t>());
        }
        return;
    }
    if (type == "TemplateProcessing") {  // "single": [{"SpecialToken": {"id": "[CLS]"}}, {"Sequence": {"id": "A"}}, ...]
        if (!pp.contains("single") || !pp["single"].is_array())
            bad_file(origin, "post_processor TemplateProcessing has no \"single\" template");
        bool seen_sequence = false;
        for (const auto& item : pp["single"]) {
            if (item.is_object() && item.contains("Sequence")) {
                seen_sequence = true;
                continue;
            }
            if (!item.is_object() || !item.contains("SpecialToken") || !item["SpecialToken"].is_object() ||
                !item["SpecialToken"].contains("id") || !item["SpecialToken"]["id"].is_string())
                bad_file(origin, "post_processor template item is neither a Sequence nor a SpecialToken");
            const std::string name = item["SpecialToken"]["id"];
            std::vector<int64_t> ids;
            // The ids listed under "special_tokens" win; otherwise the vocabulary's id of the name.
            const auto& table = pp.contains("special_tokens") ? pp["special_tokens"] : nlohmann::json();
            if (table.is_object() && table.contains(name) && table[name].is_object() &&
                table[name].contains("ids") && table[name]["ids"].is_array()) {
                for (const auto& id : table[name]["ids"]) {
                    if (!id.is_number_integer()) bad_file(origin, "special_tokens ids of " + quote_token(name) + " are not integers");
                    ids.push_back(id.get<int64_t>());
                }
            } else {
                ids.push_back(id_of(name, origin, lookup));
            }
            auto& side = seen_sequence ? t.after : t.before;
            side.insert(side.end(), ids.begin(), ids.end());
        }
        return;
    }
    bad_file(origin, "post_processor type " + quote_token(type) + " is not supported");
}

}  // namespace

void read_added_tokens(const nlohmann::json& j, const std::string& origin, std::vector<SpecialToken>& added,
                       std::vector<bool>& special) {
    if (!j.contains("added_tokens") || j["added_tokens"].is_null()) return;
    if (!j["added_tokens"].is_array()) bad_file(origin, "added_tokens is not a list");
    for (const nlohmann::json& a : j["added_tokens"]) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
            !a["content"].is_string())
            bad_file(origin, "an added_tokens entry lacks an integer \"id\" or a \"content\" string");
        added.push_back({a["content"].get<std::string>(), a["id"].get<int64_t>()});
        special.push_back(a.contains("special") && a["special"].is_boolean() && a["special"].get<bool>());
    }
}

Template read_post_processor(const nlohmann::json& tokenizer_json, const std::string& origin,
                             const std::vector<std::pair<std::string, int64_t>>& vocab,
                             const std::vector<SpecialToken>& added) {
    std::unordered_map<std::string, int64_t> by_name;
    for (const auto& [text, id] : vocab) by_name[text] = id;
    for (const SpecialToken& a : added) by_name[a.text] = a.id;
    const nlohmann::json none;
    return read_post_processor(tokenizer_json.contains("post_processor") ? tokenizer_json["post_processor"] : none,
                               origin, [&](const std::string& name) -> std::optional<int64_t> {
                                   const auto it = by_name.find(name);
                                   if (it == by_name.end()) return std::nullopt;
                                   return it->second;
                               });
}

Template read_post_processor(const nlohmann::json& pp, const std::string& origin,
                             const std::function<std::optional<int64_t>(const std::string&)>& lookup) {
    Template t;
    add_post_processor(pp, origin, t, lookup);
    return t;
}

}  // namespace attend::tokenizers
