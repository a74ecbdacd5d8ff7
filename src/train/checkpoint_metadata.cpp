// train/checkpoint_metadata.cpp — the one checked reader of a training checkpoint's metadata
// (train/checkpoint.hpp): format, step, random streams, config, arch, loss history. Every
// field is checked before a model is built from it, and an error is one line naming the file
// and the field (io/json_fields.hpp's form). Fuzzed by fuzz/checkpoint_metadata.cpp.
#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "attend/error.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/train/checkpoint.hpp"
#include "io/json_fields.hpp"

namespace attend {

namespace {

[[noreturn]] void bad_field(const std::string& where, const std::string& field, const std::string& expected,
                            const std::string& got) {
    throw Error(where + ": field \"" + field + "\": expected " + expected + ", got \"" +
                (got.size() > 40 ? got.substr(0, 40) + "..." : got) + "\"");
}

// A decimal integer in [0, 2^64) with nothing around it; nullopt otherwise.
std::optional<uint64_t> decimal(std::string_view text) {
    if (text.empty() || text.size() > 20) return std::nullopt;
    uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, uint64_t(c - '0'), &v)) return std::nullopt;
    }
    return v;
}

int64_t step_from(const std::string& text, const std::string& where) {
    const auto v = decimal(text);
    if (!v || *v > uint64_t(1) << 53) bad_field(where, "__metadata__.step", "a step count ≥ 0 (decimal)", text);
    return int64_t(*v);
}

Generator generator_from(const std::string& text, const std::string& key, const std::string& where) {
    const std::string expected = "four decimal 64-bit words, not all zero";
    std::array<uint64_t, 4> s{};
    size_t pos = 0, n = 0;
    while (pos <= text.size()) {
        const size_t space = std::min(text.find(' ', pos), text.size());
        const auto word = decimal(std::string_view(text).substr(pos, space - pos));
        if (!word || n == 4) bad_field(where, "__metadata__." + key, expected, text);
        s[n++] = *word;
        pos = space + 1;
    }
    if (n != 4 || (s[0] | s[1] | s[2] | s[3]) == 0) bad_field(where, "__metadata__." + key, expected, text);
    Generator g;
    g.set_state(s);
    return g;
}

}  // namespace

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
    // Only the header: the filter takes no tensor, so nothing is made.
    return read_safetensors(path, [](const std::string&) { return false; }).metadata;
}

std::vector<HistoryRow> parse_training_history(const std::string& text, const std::string& where) {
    const nlohmann::json j = parse_json(text, where, "metadata \"history\"");
    json_array(j, where, "__metadata__.history");
    std::vector<HistoryRow> rows;
    for (size_t i = 0; i < j.size(); ++i) {
        const std::string field = "__metadata__.history[" + std::to_string(i) + "]";
        const nlohmann::json& r = j[i];
        if (!r.is_array() || r.size() != 4) json_fail(where, field, "[step, train loss, val loss or null, lr]", r);
        HistoryRow row;
        row.step = json_integer(r[0], where, field + "[0]", 0);
        row.train = json_number(r[1], where, field + "[1]");
        row.val = r[2].is_null() ? NAN : json_number(r[2], where, field + "[2]");
        row.lr = json_number(r[3], where, field + "[3]");
        rows.push_back(row);
    }
    return rows;
}

void check_training_metadata(const std::map<std::string, std::string>& metadata, const std::string& where) {
    auto format = metadata.find("format");
    if (format == metadata.end() || format->second != kTrainingCheckpointFormat)
        throw Error(where + ": not an attend training checkpoint (field \"__metadata__.format\": expected \"" + kTrainingCheckpointFormat +
                    "\", got " + (format == metadata.end() ? std::string("nothing") : "\"" + format->second.substr(0, 40) + "\"") +
                    ")");
    auto step = metadata.find("step");
    if (step == metadata.end()) throw Error(where + ": field \"__metadata__.step\": expected a step count, got nothing");
    step_from(step->second, where);
    for (const auto& [key, value] : metadata)
        if (key.rfind("rng.", 0) == 0) generator_from(value, key, where);
    if (auto config = metadata.find("attend_config"); config != metadata.end())
        config_from_json(config->second, where + " (metadata attend_config)");
    if (auto arch = metadata.find("arch"); arch != metadata.end() && arch->second != "gpt" && arch->second != "bert" &&
                                           arch->second != "seq2seq")
        bad_field(where, "__metadata__.arch", "gpt, bert or seq2seq", arch->second);
    if (auto history = metadata.find("history"); history != metadata.end()) parse_training_history(history->second, where);
}

std::map<std::string, std::string> read_training_metadata(const std::string& path) {
    std::map<std::string, std::string> metadata = read_safetensors_metadata(path);
    check_training_metadata(metadata, path);
    // What the trainer's checkpoints always hold, and `--resume` needs.
    for (const char* stream : {"rng.data", "rng.dropout"})
        if (!metadata.count(stream))
            throw Error(path + ": field \"__metadata__." + stream + "\": expected a random stream's state, got nothing");
    if (!metadata.count("attend_config"))
        throw Error(path + ": field \"__metadata__.attend_config\": expected a model config, got nothing");
    return metadata;
}

TrainingState training_state_from(const std::map<std::string, std::string>& metadata, const std::string& where) {
    check_training_metadata(metadata, where);
    TrainingState state;
    state.step = step_from(metadata.at("step"), where);
    for (const auto& [key, value] : metadata) {
        if (key.rfind("rng.", 0) == 0) state.generators[key.substr(4)] = generator_from(value, key, where);
        else if (key != "step" && key != "format") state.metadata[key] = value;
    }
    return state;
}

}  // namespace attend
