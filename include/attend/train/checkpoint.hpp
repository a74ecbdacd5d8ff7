// train/checkpoint.hpp — everything needed to continue a run exactly where it stopped.
//
// One safetensors file, written atomically (temporary file, fsync, rename — a crash while
// writing leaves the previous checkpoint untouched):
//   model.<name>               every parameter, written by io/model_loader.hpp's
//                              model_record (the one writer of the model format), so that
//                              load_model, `attend generate`, `perplexity` and `viz` open a
//                              checkpoint as a model
//   optim.m.<name> optim.v.<name> optim.step   AdamW's state
//   __metadata__               "attend_config" (the model's config), "step", "rng.<stream>"
//                              (the generators' 4×64-bit states as decimal words), and
//                              free-form strings the trainer adds (options, history)
//
// Implemented in src/train/checkpoint.cpp.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "attend/models/transformer.hpp"
#include "attend/nn/module.hpp"
#include "attend/random.hpp"
#include "attend/train/optimizer.hpp"

namespace attend {

struct TrainingState {
    int64_t step = 0;                              // optimizer steps completed
    std::map<std::string, Generator> generators;   // named random streams (data, dropout, ...)
    std::map<std::string, std::string> metadata;   // anything else, as strings
};

void save_training_checkpoint(const std::string& path, const Transformer& model, const AdamW& optimizer,
                     const TrainingState& state);

// Loads into `model` and `optimizer` (every name and shape checked first) and returns the rest.
TrainingState load_training_checkpoint(const std::string& path, const NamedParameters& model, AdamW& optimizer);

// The __metadata__ of a safetensors file (empty when it has none).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

}  // namespace attend
