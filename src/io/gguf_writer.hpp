// io/gguf_writer.hpp — writes a GGUF file (version 3, little-endian; layout in io/gguf.hpp).
//
// Metadata keys are written in the order they are set (a key set twice is an Error); tensors
// in the order they are added, each at the next multiple of the alignment (32, the format's
// default, unless general.alignment says otherwise), encoded to their ggml type only while the
// file is written — a row block at a time, so writing costs little memory beyond the model.
// The file is written atomically (core/atomic_file.hpp). Private to src/io.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "attend/tensor.hpp"
#include "io/ggml_types.hpp"

namespace attend {

class GgufWriter {
public:
    void set_string(const std::string& key, const std::string& value);
    void set_u32(const std::string& key, uint32_t value);
    void set_i32(const std::string& key, int32_t value);
    void set_u64(const std::string& key, uint64_t value);
    void set_f32(const std::string& key, float value);
    void set_bool(const std::string& key, bool value);
    void set_strings(const std::string& key, const std::vector<std::string>& values);
    void set_f32s(const std::string& key, const std::vector<float>& values);
    void set_i32s(const std::string& key, const std::vector<int32_t>& values);

    // `values`: an f32 tensor (any layout) or a low-precision matrix (widened row by row), of
    // attend's shape (outermost first; GGUF's dims are its reverse). Stored as `type`, whose
    // block must divide the innermost dimension (an Error naming the tensor otherwise).
    void add_tensor(const std::string& name, const Tensor& values, GgmlType type);

    // Writes the file atomically; errors name `path`.
    void write(const std::string& path) const;

private:
    struct Entry {
        std::string name;
        Tensor values;
        GgmlType type;
        uint64_t bytes;
    };
    void key(const std::string& key, uint32_t type);
    std::string kv_;  // the encoded key/value pairs
    uint64_t n_kv_ = 0;
    uint32_t alignment_ = 32;
    std::set<std::string> keys_;
    std::vector<Entry> tensors_;
    std::set<std::string> tensor_names_;
};

}  // namespace attend
