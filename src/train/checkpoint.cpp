// train/checkpoint.cpp — model + optimizer + step + random streams in one atomic file, and
// the one checked reader of it (train/checkpoint.hpp).
//
// Atomicity comes from save_safetensors (temporary file, fsync, rename): a reader sees the
// old file or the new one, never a torn one, even when the writer is killed mid-write.
// Reading trusts nothing: the metadata is read and checked by train/checkpoint_metadata.cpp
// before anything else, the tensors' names, shapes and values here.
#include "attend/train/checkpoint.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <array>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/io/safetensors.hpp"

namespace attend {

namespace {

// A generator's 4×64-bit state as "w0 w1 w2 w3" (decimal): f32 tensors cannot hold it exactly.
std::string state_string(const Generator& g) {
    std::string s;
    for (uint64_t w : g.state()) s.append(s.empty() ? "" : " ").append(std::to_string(w));
    return s;
}

// Every value finite (and ≥ 0 where `non_negative`): a NaN carried into a resumed run would
// only surface steps later as "the loss is not finite".
void check_values(const Tensor& t, const std::string& name, bool non_negative, const std::string& where) {
    const Tensor c = t.contiguous();
    const float* d = c.data();
    for (int64_t i = 0; i < c.numel(); ++i)
        if (!std::isfinite(d[i]) || (non_negative && d[i] < 0.f))
            throw Error(where + ": tensor '" + name + "' holds " + std::to_string(d[i]) + " at index " +
                        std::to_string(i) + "; expected " + (non_negative ? "finite values ≥ 0" : "finite values"));
}

}  // namespace

void save_training_checkpoint(const std::string& path, const Transformer& model, const AdamW& optimizer,
                     const TrainingState& state) {
    // The model through io's one writer of the model format: the checkpoint is a model too.
    std::map<std::string, std::string> metadata = state.metadata;
    metadata.erase("attend_config");  // a loaded checkpoint's: model_record writes the model's own
    metadata["format"] = kTrainingCheckpointFormat;
    metadata["step"] = std::to_string(state.step);
    for (const auto& [name, g] : state.generators) metadata["rng." + name] = state_string(g);
    ModelRecord record = model_record(model, metadata, kTrainingCheckpointPrefix);
    for (const auto& [name, t] : optimizer.state()) record.tensors["optim." + name] = t;
    save_safetensors(path, record.tensors, record.metadata);
}

TrainingState load_training_checkpoint(const std::string& path, const NamedParameters& model, AdamW& optimizer) {
    const auto metadata = read_safetensors_metadata(path);
    check_training_metadata(metadata, path);  // before a tensor is read
    const auto tensors = load_safetensors(path);
    std::map<std::string, Tensor> optim;
    for (const auto& [name, t] : tensors)
        if (name.rfind("optim.", 0) == 0) optim[name.substr(6)] = t;
    // Check both halves before writing either: a mismatch leaves the model untouched.
    for (const auto& [name, p] : model) {
        auto it = tensors.find("model." + name);
        if (it == tensors.end()) throw Error(path + ": checkpoint has no parameter " + name);
        if (it->second.shape() != p->shape())
            throw Error(path + ": parameter " + name + " has shape " + to_string(it->second.shape()) +
                        " in the checkpoint but " + to_string(p->shape()) + " in the model");
        check_values(it->second, "model." + name, false, path);
    }
    // AdamW's state: a step count, first moments finite, second moments ≥ 0 (their square
    // roots divide the update).
    for (const auto& [name, t] : optim) {
        const bool second = name.rfind("v.", 0) == 0;
        check_values(t, "optim." + name, second || name == "step", path);
        if (name == "step" && t.numel() == 1 && (t.item() != std::floor(t.item()) || t.item() > 1e15f))
            throw Error(path + ": tensor 'optim.step' holds " + std::to_string(t.item()) + "; expected a whole step count");
    }
    try {
        optimizer.load_state(optim);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    load_parameters(model, tensors, "model.", false);

    return training_state_from(metadata, path);
}

}  // namespace attend
