// train/checkpoint.cpp — model + optimizer + step + random streams in one atomic file.
//
// Atomicity comes from save_safetensors (temporary file, fsync, rename): a reader sees the
// old file or the new one, never a torn one, even when the writer is killed mid-write.
#include "attend/train/checkpoint.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/io/safetensors.hpp"

namespace attend {

namespace {

// A generator's 4×64-bit state as "w0 w1 w2 w3" (decimal): f32 tensors cannot hold it exactly.
std::string state_string(const Generator& g) {
    std::string s;
    for (uint64_t w : g.state()) s += (s.empty() ? "" : " ") + std::to_string(w);
    return s;
}

Generator generator_from(const std::string& text, const std::string& name) {
    std::array<uint64_t, 4> s{};
    size_t pos = 0;
    for (auto& w : s) {
        ATTEND_CHECK(pos < text.size(), "checkpoint random stream ", name, " has fewer than 4 words: \"", text, "\"");
        size_t used = 0;
        w = std::stoull(text.substr(pos), &used);
        pos += used;
    }
    Generator g;
    g.set_state(s);
    return g;
}

}  // namespace

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    ATTEND_CHECK(in.good(), "cannot open ", path);
    uint64_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 8);
    ATTEND_CHECK(in.good() && n < (uint64_t(1) << 30), path, ": not a safetensors file (header length ", n, ")");
    std::string header(n, '\0');
    in.read(header.data(), std::streamsize(n));
    ATTEND_CHECK(in.good(), path, ": header truncated");
    const nlohmann::json j = nlohmann::json::parse(header);
    std::map<std::string, std::string> out;
    if (j.contains("__metadata__"))
        for (const auto& [k, v] : j["__metadata__"].items()) out[k] = v.get<std::string>();
    return out;
}

void save_training_checkpoint(const std::string& path, const Transformer& model, const AdamW& optimizer,
                     const TrainingState& state) {
    // The model through io's one writer of the model format: the checkpoint is a model too.
    std::map<std::string, std::string> metadata = state.metadata;
    metadata.erase("attend_config");  // a loaded checkpoint's: model_record writes the model's own
    metadata["format"] = "attend-checkpoint-1";
    metadata["step"] = std::to_string(state.step);
    for (const auto& [name, g] : state.generators) metadata["rng." + name] = state_string(g);
    ModelRecord record = model_record(model, metadata, kTrainingCheckpointPrefix);
    for (const auto& [name, t] : optimizer.state()) record.tensors["optim." + name] = t;
    save_safetensors(path, record.tensors, record.metadata);
}

TrainingState load_training_checkpoint(const std::string& path, const NamedParameters& model, AdamW& optimizer) {
    const auto metadata = read_safetensors_metadata(path);
    auto format = metadata.find("format");
    ATTEND_CHECK(format != metadata.end() && format->second == "attend-checkpoint-1", path,
                 ": not an attend training checkpoint (no format attend-checkpoint-1 in its metadata)");
    const auto tensors = load_safetensors(path);
    std::map<std::string, Tensor> optim;
    for (const auto& [name, t] : tensors)
        if (name.rfind("optim.", 0) == 0) optim[name.substr(6)] = t;
    // Check both halves before writing either: a mismatch leaves the model untouched.
    for (const auto& [name, p] : model) {
        auto it = tensors.find("model." + name);
        ATTEND_CHECK(it != tensors.end(), path, ": checkpoint has no parameter ", name);
        ATTEND_CHECK(it->second.shape() == p->shape(), path, ": parameter ", name, " has shape ",
                     to_string(it->second.shape()), " in the checkpoint but ", to_string(p->shape()), " in the model");
    }
    optimizer.load_state(optim);
    load_parameters(model, tensors, "model.", false);

    TrainingState state;
    state.step = std::stoll(metadata.at("step"));
    for (const auto& [key, value] : metadata) {
        if (key.rfind("rng.", 0) == 0) state.generators[key.substr(4)] = generator_from(value, key);
        else if (key != "step" && key != "format") state.metadata[key] = value;
    }
    return state;
}

}  // namespace attend
