// io/gguf.hpp — the GGUF reader (llama.cpp's model format), private to the library.
//
// Layout (versions 2 and 3, little-endian; version 1 used 32-bit counts and is refused):
//   "GGUF"  u32 version  u64 n_tensors  u64 n_kv
//   n_kv × { string key, u32 value_type, value }
//   n_tensors × { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
//   padding to `general.alignment` (u32, default 32), then the data section; each tensor's
//   offset is relative to it and a multiple of the alignment.
//   string = u64 length + UTF-8 bytes (no terminator); array = u32 element type, u64 count,
//   elements. dims[0] is the innermost (contiguous) dimension: a PyTorch (out, in) matrix is
//   stored with dims {in, out}. GgufTensorInfo::shape() gives attend's order (outermost first).
//
// The file is mmapped and all of it validated before anything is returned, reading nothing
// outside its bytes whatever it claims (the libFuzzer target fuzz/gguf.cpp holds us to that):
// magic and version; counts bounded by the bytes that could hold them; every string's length
// within the file (and keys, names ≤ limits below); known value types, no nested arrays,
// array counts × element size within the file; keys and tensor names unique; bools 0 or 1;
// general.alignment a u32 power of two; tensors with 1–4 dims, each ≥ 1, the innermost a
// multiple of the type's block, a known ggml type, an aligned offset, a byte span inside the
// data section and overlapping no other. Every error is one line naming the file (and the
// key or tensor).
//
// Metadata is read by key through typed getters, each an Error naming the file and key when
// the key is missing or holds another type. Integer getters accept any integer type whose
// value fits (writers differ: u32 here, i32 or u64 there); float getters accept f32 and f64.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attend/tensor.hpp"
#include "io/ggml_types.hpp"

namespace attend {

class MappedFile;

enum class GgufValueType : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
    u64 = 10, i64 = 11, f64 = 12,
};
const char* name_of(GgufValueType type);  // "u32", "string", "array", ...

// Limits beyond "inside the file", as llama.cpp's own reader sets them.
struct GgufLimits {
    static constexpr uint64_t kMaxKeyBytes = 65535;     // a metadata key
    static constexpr uint64_t kMaxNameBytes = 63;       // a tensor name (ggml's GGML_MAX_NAME − 1)
    static constexpr uint32_t kMaxDims = 4;             // ggml's GGML_MAX_DIMS
    static constexpr uint32_t kMaxAlignment = 1u << 16; // general.alignment
};

// One metadata value, decoded. Scalars: an integer in `integer` (or `unsigned_integer` for
// u64 values above INT64_MAX), a float in `real`, a bool in `integer` (0/1), a string in
// `text`. Arrays: `element` names the type, `count` the length, and strings are in `texts`,
// integers in `integers`, floats in `reals`, bools in `integers`.
struct GgufValue {
    GgufValueType type = GgufValueType::u8;
    GgufValueType element = GgufValueType::u8;  // arrays only
    int64_t integer = 0;
    uint64_t unsigned_integer = 0;  // u64 scalars: the value as stored
    bool above_int64 = false;       // a u64 scalar too large for `integer`
    double real = 0;
    std::string text;
    uint64_t count = 0;
    std::vector<std::string> texts;
    std::vector<int64_t> integers;
    bool any_above_int64 = false;   // a u64 element too large for `integers` (held as -1 there)
    std::vector<double> reals;
};

struct GgufTensorInfo {
    std::string name;
    std::vector<uint64_t> dims;  // GGUF order: dims[0] innermost
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;  // in the data section
    uint64_t bytes = 0;   // its span's length
    uint64_t numel() const;
    Shape shape() const;  // attend order: dims reversed
};

class GgufFile {
public:
    // mmaps and validates `path`.
    static GgufFile open(const std::string& path);
    // Validates `size` bytes at `bytes` (a fuzzer's input, a test's buffer): they must outlive
    // the GgufFile. `name` stands for the file in errors.
    static GgufFile parse(const void* bytes, size_t size, const std::string& name);

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_start() const { return data_start_; }  // where the data section begins in the file

    // ---- metadata ----------------------------------------------------------------------
    const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
    const std::vector<std::string>& keys() const { return key_order_; }  // in file order
    bool has(const std::string& key) const { return metadata_.count(key) != 0; }
    const GgufValue* find(const std::string& key) const;  // null when absent

    std::string get_string(const std::string& key) const;
    uint32_t get_u32(const std::string& key) const;
    int32_t get_i32(const std::string& key) const;
    uint64_t get_u64(const std::string& key) const;
    float get_f32(const std::string& key) const;
    bool get_bool(const std::string& key) const;
    // With a fallback for an absent key (a present key of another type is still an Error).
    std::string get_string(const std::string& key, const std::string& fallback) const;
    uint32_t get_u32(const std::string& key, uint32_t fallback) const;
    int32_t get_i32(const std::string& key, int32_t fallback) const;
    uint64_t get_u64(const std::string& key, uint64_t fallback) const;
    float get_f32(const std::string& key, float fallback) const;
    bool get_bool(const std::string& key, bool fallback) const;

    // Arrays: strings, any integer elements (as int64), f32/f64 elements (as float).
    const std::vector<std::string>& get_string_array(const std::string& key) const;
    std::vector<int64_t> get_int_array(const std::string& key) const;
    std::vector<float> get_float_array(const std::string& key) const;

    // An Error "<path>: metadata key "<key>": <what>" — for callers' own checks of a value.
    [[noreturn]] void fail_key(const std::string& key, const std::string& what) const;

    // ---- tensors -----------------------------------------------------------------------
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }  // in file order
    const GgufTensorInfo* find_tensor(const std::string& name) const;         // null when absent
    // The tensor's bytes (info.bytes of them) — inside the file, validated.
    const unsigned char* tensor_data(const GgufTensorInfo& info) const;
    // The tensor decoded to f32, in attend's shape (dims reversed). F32 data is borrowed from
    // the mapping (zero-copy, it is aligned) when the file was opened; everything else is
    // decoded into a new tensor. A type attend does not decode is an Error naming the file,
    // the tensor and the type.
    Tensor tensor_f32(const GgufTensorInfo& info) const;
    Tensor tensor_f32(const std::string& name) const;  // Error when absent

    // The mapping (null for parse()): owners of tensors borrowed from it keep it alive.
    const std::shared_ptr<MappedFile>& mapping() const { return mapping_; }
    const unsigned char* bytes() const { return bytes_; }
    size_t size() const { return size_; }
    // A file opened to be read into memory (io/mapped_file.hpp's open_model_file) is read now,
    // once the caller has checked what the header describes: MappedFile::make_resident of the
    // whole file. Before any tensor is borrowed: bytes() moves.
    void make_resident();

private:
    GgufFile() = default;
    const GgufValue& require(const std::string& key, const char* wanted) const;
    std::string path_;
    std::shared_ptr<MappedFile> mapping_;
    const unsigned char* bytes_ = nullptr;
    size_t size_ = 0;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_start_ = 0;
    std::map<std::string, GgufValue> metadata_;
    std::vector<std::string> key_order_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, size_t> tensor_index_;
};

}  // namespace attend
