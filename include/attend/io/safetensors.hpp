// io/safetensors.hpp — read and write the safetensors format (Hugging Face).
//
// Layout: u64 little-endian N, then N bytes of JSON {"name": {"dtype", "shape",
// "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw data, offsets
// relative to the end of the header. Everything is validated before use: a file that lies
// is an attend::Error naming the file and the tensor.
#pragma once
#include <map>
#include <string>

#include "attend/tensor.hpp"

namespace attend {

// Loads every tensor (F32; F16 and BF16 are widened to f32).
std::map<std::string, Tensor> load_safetensors(const std::string& path);

// Writes F32 tensors atomically (temporary file, fsync, rename).
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace attend
