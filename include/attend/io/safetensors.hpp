// io/safetensors.hpp — read and write the safetensors format (Hugging Face).
//
// Layout: u64 little-endian N, then N bytes of JSON {"name": {"dtype", "shape",
// "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the raw data, offsets
// relative to the end of the header.
//
// Reading maps the file (mmap, MAP_PRIVATE) and validates all of it before any tensor is
// made: the header length against the file size, the JSON, every dtype, every shape × dtype
// size against its offsets' span, every span inside the data section, no two spans
// overlapping. A file that lies is an attend::Error naming the file and the tensor.
// F32 tensors whose data is 4-byte aligned are zero-copy: their Storage points into the
// mapping and keeps it alive (writes go to private copy-on-write pages, never to the file),
// and when the last handle to one goes, the whole pages only it used are released;
// unaligned F32 data is copied; F16 and BF16 are widened to f32. Other dtypes attend cannot
// hold (I64, F64, ...) are an Error — unless the caller's `wanted` filter skips the tensor.
//
// Low-precision weights (attend/low_precision.hpp), when the caller asks for them
// (LowPrecisionReading):
//   BF16 matrices it names stay bf16: a low_precision_tensor over the mapped values
//        (2-byte aligned: adopted in place, the mapping its owner; else copied).
//   I8   matrices (R, C) are int8 values whose F32 scales, shape (R, ceil(C / 32)), are the
//        tensor named <name><int8_scale_suffix>; the pair becomes one int8
//        low_precision_tensor (the scale is not returned on its own). A missing scale, a
//        scale of another dtype or shape, or a non-finite or negative scale is an Error
//        naming the file and the tensor.
// The writer is the mirror: a low-precision tensor is written as BF16 or I8 (its values
// only: an int8 matrix's scales are the caller's to write, under the name it reads them by).
//
// A mapped file must not be truncated by another process while its tensors live (the kernel
// would raise SIGBUS); save_safetensors replaces files by rename, which is safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "attend/tensor.hpp"

namespace attend {

// One tensor's entry in the header, validated.
struct SafetensorsEntry {
    std::string name;
    std::string dtype;  // "F32", "F16", "BF16", ... (one of the format's dtypes)
    Shape shape;
    uint64_t begin = 0, end = 0;  // byte span in the data section
};

// The validated header of a safetensors file.
struct SafetensorsHeader {
    uint64_t data_start = 0;  // 8 + N: where the data section begins in the file
    uint64_t data_size = 0;   // bytes in the data section
    std::vector<SafetensorsEntry> tensors;        // in the order of their offsets
    std::map<std::string, std::string> metadata;  // __metadata__ (empty when absent)
};

// Validates the header of a whole file's bytes (`size` of them at `bytes`) as described above
// and returns its table. `path` names the source in errors. Reads nothing outside [bytes,
// bytes + size), whatever the header says — the fuzz target drives this.
SafetensorsHeader parse_safetensors_header(const void* bytes, size_t size, const std::string& path);

struct SafetensorsContents {
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::string> metadata;
};

// Decides which tensors to load; the others are validated but not converted (their dtype
// may be one attend cannot hold). Empty: all.
using TensorFilter = std::function<bool(const std::string& name)>;

// Which tensors to keep in low precision (above). Default: none (BF16 widens, I8 is an Error).
struct LowPrecisionReading {
    TensorFilter bf16;              // BF16 2-D tensors for which it returns true stay bf16
    std::string int8_scale_suffix;  // non-empty: I8 2-D tensors load as int8, scales under name + suffix
};

// mmaps and validates `path`, then makes the tensors (zero-copy F32 where aligned).
SafetensorsContents read_safetensors(const std::string& path, const TensorFilter& wanted = {},
                                     const LowPrecisionReading& low_precision = {});

// The same from bytes in memory (copied into fresh Tensors; `bytes` need not outlive them).
SafetensorsContents parse_safetensors(const void* bytes, size_t size, const std::string& name = "<memory>",
                                      const TensorFilter& wanted = {}, const LowPrecisionReading& low_precision = {});

// Just the tensors of read_safetensors.
std::map<std::string, Tensor> load_safetensors(const std::string& path);

// Writes F32 tensors — and low-precision ones as BF16 or I8 values (above) — atomically (a
// temporary file beside it, fsync, rename), the data section 8-byte aligned and each tensor
// in it 4-byte aligned. Metadata keys must not be "__metadata__"-reserved; names must be non-empty.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace attend
