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
#include <vector>

#include "attend/models/transformer.hpp"
#include "attend/nn/module.hpp"
#include "attend/random.hpp"
#include "attend/train/optimizer.hpp"

namespace attend {

constexpr const char* kTrainingCheckpointFormat = "attend-checkpoint-1";

struct TrainingState {
    int64_t step = 0;                              // optimizer steps completed
    std::map<std::string, Generator> generators;   // named random streams (data, dropout, ...)
    std::map<std::string, std::string> metadata;   // anything else, as strings
};

// One row of a run's loss history (the "history" metadata: [[step, train, val|null, lr], ...]).
struct HistoryRow {
    int64_t step;
    double train, val, lr;  // val: NaN where the step was not evaluated
};

void save_training_checkpoint(const std::string& path, const Transformer& model, const AdamW& optimizer,
                     const TrainingState& state);

// Loads into `model` and `optimizer` (every name and shape checked first) and returns the rest.
TrainingState load_training_checkpoint(const std::string& path, const NamedParameters& model, AdamW& optimizer);

// The __metadata__ of a safetensors file (empty when it has none). The header is validated
// against the file's size before anything is read (io/safetensors.hpp).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

// The one reader of a training checkpoint's metadata (`attend train --resume`): the metadata
// of `path`, every field checked before anything is built from it —
//   format   "attend-checkpoint-1"
//   step     a decimal integer ≥ 0
//   rng.<s>  four decimal 64-bit words, not all zero (xoshiro's one dead state); the
//            trainer's rng.data and rng.dropout must be there
//   attend_config  our config JSON (io/config_json.hpp), validated; must be there
//   arch     gpt, bert or seq2seq (when present)
//   history  [[step ≥ 0, train, val or null, lr], ...] (when present)
// An error is one line: <path>: field "<name>": expected <what>, got <what>.
std::map<std::string, std::string> read_training_metadata(const std::string& path);
// The checks above on metadata already read (`where` names the file), for any checkpoint
// save_training_checkpoint writes: format and step required, the other fields checked when
// present (its streams may have other names).
void check_training_metadata(const std::map<std::string, std::string>& metadata, const std::string& where);
// The step, the random streams and the rest of checked metadata, as load_training_checkpoint
// returns them.
TrainingState training_state_from(const std::map<std::string, std::string>& metadata, const std::string& where);
// The "history" metadata, checked as above.
std::vector<HistoryRow> parse_training_history(const std::string& json_text, const std::string& where);

}  // namespace attend
