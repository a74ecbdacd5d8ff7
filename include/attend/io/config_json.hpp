// io/config_json.hpp — a TransformerConfig as JSON and back, for our checkpoints.
//
//   {"model_type": "attend", "shape": "decoder", "head": "lm", "vocab_size": 512,
//    "d_model": 64, ..., "norm": "rms_norm", "rope_layout": "interleaved", ...}
//
// Every field of TransformerConfig, enums by the names models/config.hpp's name_of gives.
// "model_type": "attend" marks the JSON as ours, so a config.json written by save_model is
// told apart from a Hugging Face one. Reading is strict: an unknown key (a typo), a value of
// the wrong type or an unknown enum name is an Error naming the key; a missing key keeps
// TransformerConfig's default, so older files still load. Floats are written with enough
// digits to round-trip exactly.
//
// Implemented in src/io/config_json.cpp.
#pragma once
#include <string>

#include "attend/models/config.hpp"

namespace attend {

// Pretty-printed (indent 2) when `indent` >= 0, one line when -1.
std::string config_to_json(const TransformerConfig& config, int indent = 2);

// Parses and validates (TransformerConfig::validate). `where` names the source in errors.
TransformerConfig config_from_json(const std::string& json_text, const std::string& where = "config");

}  // namespace attend
