// io/loader_internal.hpp — what the loaders in src/io share (private to the library).
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "attend/io/model_loader.hpp"
#include "attend/io/hf_names.hpp"
#include "attend/models/transformer.hpp"
#include "attend/tensor.hpp"

namespace attend {

// A JSON file read whole (config.json, the shard index): real ones are kilobytes.
inline constexpr uint64_t kMaxJsonBytes = uint64_t(64) << 20;

// Makes `source` (our parameter names) the model's parameters: every parameter must be
// there with its shape, and nothing else may be (errors name `path` and the tensor). The
// parameter handles are replaced, not copied into, so tensors borrowed from a mapped file
// stay zero-copy; each becomes a leaf with requires_grad, as a built model's parameters are.
void adopt_parameters(Transformer& model, const std::map<std::string, Tensor>& source, const std::string& path);

// Before a model is built from `config`: the config is valid (ConfigLimits bound every size),
// its parameters are not far more (2× + 1 M) than the `values` the file's tensors hold (the
// exact names and shapes are adopt_parameters' to check, on a model built uninitialised:
// shapes with no memory behind them), and the position
// tables it would compute (sinusoidal, RoPE) stay within a small multiple of that. So a small
// file claiming a huge model fails here, in microseconds, naming the file and the sizes —
// and whatever is built afterwards is bounded by the file's own size.
void check_config_fits_file(const TransformerConfig& config, uint64_t values, const std::string& file);

// A Hugging Face config.json, read: the config, the name mapping its tensors need, and the
// special ids it declares (-1 when absent).
struct HfConfig {
    TransformerConfig config;
    CheckpointFormat format = CheckpointFormat::hf_gpt2;
    int64_t bos_id = -1, eos_id = -1, pad_id = -1;
};
HfConfig parse_hf_config(const std::string& json_text, const std::string& where);

// model.safetensors.index.json: the shard files its weight_map names (plain file names).
std::set<std::string> parse_safetensors_index(const std::string& json_text, const std::string& where);

// The format loaders behind load_model.
LoadedModel load_llama2c(const std::string& path);
LoadedModel load_gguf(const std::string& path);  // io/gguf_model.cpp

}  // namespace attend
