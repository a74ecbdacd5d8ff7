// io/gguf.cpp — the GGUF reader: one pass over the header that checks every count, length
// and offset against the bytes actually there before anything is kept (gguf.hpp).
#include "io/gguf.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "attend/error.hpp"
#include "attend/parallel.hpp"
#include "io/mapped_file.hpp"

namespace attend {

static_assert(std::endian::native == std::endian::little, "GGUF is read as little-endian, in place");

namespace {


// A key or name from the file, fit for a one-line message: control bytes escaped, long ones cut.
std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s.substr(0, 80)) {
        if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else out += char(c);
    }
    if (s.size() > 80) out += "...";
    return out;
}

struct TypeInfo {
    const char* name;
    uint64_t bytes;  // 0: variable (string, array)
};
constexpr TypeInfo kValueTypes[] = {{"u8", 1},  {"i8", 1},     {"u16", 2},    {"i16", 2},   {"u32", 4},
                                    {"i32", 4}, {"f32", 4},    {"bool", 1},   {"string", 0}, {"array", 0},
                                    {"u64", 8}, {"i64", 8},    {"f64", 8}};
constexpr uint32_t kValueTypeCount = sizeof kValueTypes / sizeof kValueTypes[0];

bool is_integer(GgufValueType t) {
    switch (t) {
        case GgufValueType::u8: case GgufValueType::i8: case GgufValueType::u16: case GgufValueType::i16:
        case GgufValueType::u32: case GgufValueType::i32: case GgufValueType::u64: case GgufValueType::i64:
            return true;
        default: return false;
    }
}
bool is_float(GgufValueType t) { return t == GgufValueType::f32 || t == GgufValueType::f64; }

// Reads the header front to back; every read checks that its bytes are there.
class Cursor {
public:
    Cursor(const unsigned char* bytes, size_t size, const std::string& path) : p_(bytes), size_(size), path_(path) {}
    uint64_t at() const { return at_; }
    uint64_t left() const { return size_ - at_; }

    void need(uint64_t n, const std::string& what) const {
        if (n > left())
            bad_file(path_, "truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                                std::to_string(at_) + " but the file has " + std::to_string(left()) + " left");
    }
    template <class T>
    T scalar(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, p_ + at_, sizeof(T));
        at_ += sizeof(T);
        return v;
    }
    std::string string(const std::string& what, uint64_t max_bytes) {
        const uint64_t n = scalar<uint64_t>(what + "'s length");
        if (n > left())
            bad_file(path_, what + " has length " + std::to_string(n) + " at offset " + std::to_string(at_ - 8) +
                                ", more than the " + std::to_string(left()) + " bytes left in the file");
        if (n > max_bytes)
            bad_file(path_, what + " has length " + std::to_string(n) + ", over the limit of " +
                                std::to_string(max_bytes) + " bytes");
        std::string s(reinterpret_cast<const char*>(p_ + at_), size_t(n));
        at_ += n;
        return s;
    }

private:
    const unsigned char* p_;
    uint64_t size_;
    uint64_t at_ = 0;
    const std::string& path_;
};

GgufValueType value_type(uint32_t id, const std::string& path, const std::string& where) {
    if (id >= kValueTypeCount)
        bad_file(path, where + " has unknown value type " + std::to_string(id) + " (GGUF defines 0-12)");
    return GgufValueType(id);
}

// One scalar of type t (not string/array) into v's integer/real fields.
void read_scalar(Cursor& c, GgufValueType t, int64_t& integer, uint64_t& as_unsigned, bool& above, double& real,
                 const std::string& path, const std::string& where) {
    above = false;
    switch (t) {
        case GgufValueType::u8: integer = c.scalar<uint8_t>(where); break;
        case GgufValueType::i8: integer = c.scalar<int8_t>(where); break;
        case GgufValueType::u16: integer = c.scalar<uint16_t>(where); break;
        case GgufValueType::i16: integer = c.scalar<int16_t>(where); break;
        case GgufValueType::u32: integer = c.scalar<uint32_t>(where); break;
        case GgufValueType::i32: integer = c.scalar<int32_t>(where); break;
        case GgufValueType::i64: integer = c.scalar<int64_t>(where); break;
        case GgufValueType::u64:
            as_unsigned = c.scalar<uint64_t>(where);
            above = as_unsigned > uint64_t(INT64_MAX);
            integer = above ? -1 : int64_t(as_unsigned);
            return;
        case GgufValueType::f32: real = c.scalar<float>(where); break;
        case GgufValueType::f64: real = c.scalar<double>(where); break;
        case GgufValueType::boolean: {
            const uint8_t b = c.scalar<uint8_t>(where);
            if (b > 1) bad_file(path, where + " is a bool holding " + std::to_string(b) + " (not 0 or 1)");
            integer = b;
            break;
        }
        default: bad_file(path, where + ": not a scalar type");  // unreachable: callers pass scalars
    }
    as_unsigned = uint64_t(integer);
}

GgufValue read_value(Cursor& c, GgufValueType type, const std::string& path, const std::string& where) {
    GgufValue v;
    v.type = type;
    if (type == GgufValueType::string) {
        v.text = c.string(where, std::numeric_limits<uint64_t>::max());
        return v;
    }
    if (type != GgufValueType::array) {
        read_scalar(c, type, v.integer, v.unsigned_integer, v.above_int64, v.real, path, where);
        return v;
    }
    v.element = value_type(c.scalar<uint32_t>(where + "'s element type"), path, where + "'s elements");
    if (v.element == GgufValueType::array) bad_file(path, where + " is an array of arrays, which attend does not read");
    v.count = c.scalar<uint64_t>(where + "'s length");
    // The smallest an element can be (a string: its 8-byte length) bounds the count by the
    // bytes left, before anything is allocated.
    const uint64_t least = v.element == GgufValueType::string ? 8 : kValueTypes[uint32_t(v.element)].bytes;
    if (v.count > c.left() / least)
        bad_file(path, where + " claims " + std::to_string(v.count) + " " + name_of(v.element) +
                           " elements, more than the " + std::to_string(c.left()) + " bytes left in the file hold");
    if (v.element == GgufValueType::string) {
        v.texts.reserve(size_t(v.count));
        for (uint64_t i = 0; i < v.count; ++i)
            v.texts.push_back(c.string(where + "[" + std::to_string(i) + "]", std::numeric_limits<uint64_t>::max()));
    } else if (is_float(v.element)) {
        v.reals.resize(size_t(v.count));
        int64_t i64 = 0;
        uint64_t u64 = 0;
        bool above = false;
        for (uint64_t i = 0; i < v.count; ++i) read_scalar(c, v.element, i64, u64, above, v.reals[i], path, where);
    } else {
        v.integers.resize(size_t(v.count));
        uint64_t u64 = 0;
        bool above = false;
        double real = 0;
        for (uint64_t i = 0; i < v.count; ++i) {
            read_scalar(c, v.element, v.integers[i], u64, above, real, path, where + "[" + std::to_string(i) + "]");
            v.any_above_int64 = v.any_above_int64 || above;
        }
    }
    return v;
}

std::string describe(const GgufValue& v) {
    if (v.type == GgufValueType::array) return std::string("array of ") + name_of(v.element);
    return name_of(v.type);
}

}  // namespace

const char* name_of(GgufValueType type) {
    const uint32_t id = uint32_t(type);
    return id < kValueTypeCount ? kValueTypes[id].name : "unknown";
}

uint64_t GgufTensorInfo::numel() const {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;  // validated not to overflow
    return n;
}

Shape GgufTensorInfo::shape() const {
    Shape s;
    for (auto it = dims.rbegin(); it != dims.rend(); ++it) s.push_back(int64_t(*it));
    return s;
}

GgufFile GgufFile::open(const std::string& path) {
    std::shared_ptr<MappedFile> mapping = open_model_file(path);
    GgufFile file = parse(mapping->bytes(), mapping->size(), path);
    file.mapping_ = std::move(mapping);
    return file;
}

void GgufFile::make_resident() {
    if (!mapping_) return;
    mapping_->make_resident();
    bytes_ = mapping_->bytes();
}

GgufFile GgufFile::parse(const void* data, size_t size, const std::string& path) {
    GgufFile f;
    f.path_ = path;
    f.bytes_ = static_cast<const unsigned char*>(data);
    f.size_ = size;
    Cursor c(f.bytes_, size, path);

    if (size < 4 || std::memcmp(f.bytes_, "GGUF", 4) != 0)
        bad_file(path, size < 4 ? "truncated: " + std::to_string(size) + " bytes, too short for the GGUF magic"
                                : std::string("not a GGUF file (its first bytes are not \"GGUF\")"));
    c.scalar<uint32_t>("magic");
    f.version_ = c.scalar<uint32_t>("the version");
    if (f.version_ == 1) bad_file(path, "GGUF version 1 (32-bit counts, pre-2023) is not read; attend reads versions 2 and 3");
    if (f.version_ != 2 && f.version_ != 3)
        bad_file(path, "unknown GGUF version " + std::to_string(f.version_) +
                           (f.version_ > 0xffff ? " (a big-endian file? attend reads little-endian GGUF)" : "") +
                           "; attend reads versions 2 and 3");
    const uint64_t n_tensors = c.scalar<uint64_t>("the tensor count");
    const uint64_t n_kv = c.scalar<uint64_t>("the metadata count");
    // Smallest possible entries: a key/value is a length, one key byte, a type and one value
    // byte (14); a tensor is a length, one name byte, n_dims, one dim, a type, an offset (33).
    if (n_kv > c.left() / 14)
        bad_file(path, "metadata count " + std::to_string(n_kv) + " is more than the " + std::to_string(c.left()) +
                           " bytes after the header could hold");
    if (n_tensors > c.left() / 33)
        bad_file(path, "tensor count " + std::to_string(n_tensors) + " is more than the " + std::to_string(c.left()) +
                           " bytes after the header could hold");

    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string key = c.string("metadata key #" + std::to_string(i), GgufLimits::kMaxKeyBytes);
        if (key.empty()) bad_file(path, "metadata key #" + std::to_string(i) + " is empty");
        const std::string where = "metadata key \"" + printable(key) + "\"";
        if (f.metadata_.count(key)) bad_file(path, where + " appears twice");
        const GgufValueType type = value_type(c.scalar<uint32_t>(where + "'s type"), path, where);
        f.metadata_.emplace(key, read_value(c, type, path, where));
        f.key_order_.push_back(key);
    }

    if (const GgufValue* a = f.find("general.alignment")) {
        if (a->type != GgufValueType::u32)
            f.fail_key("general.alignment", std::string("expected u32, got ") + describe(*a));
        if (a->integer == 0 || !std::has_single_bit(uint64_t(a->integer)) || a->integer > GgufLimits::kMaxAlignment)
            f.fail_key("general.alignment", std::to_string(a->integer) + " is not a power of two in [1, " +
                                                std::to_string(GgufLimits::kMaxAlignment) + "]");
        f.alignment_ = uint64_t(a->integer);
    }

    f.tensors_.reserve(size_t(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensorInfo t;
        t.name = c.string("tensor #" + std::to_string(i) + "'s name", GgufLimits::kMaxNameBytes);
        if (t.name.empty()) bad_file(path, "tensor #" + std::to_string(i) + " has an empty name");
        const std::string where = "tensor '" + printable(t.name) + "'";
        if (f.tensor_index_.count(t.name)) bad_file(path, where + " appears twice");
        const uint32_t n_dims = c.scalar<uint32_t>(where + "'s dimension count");
        if (n_dims == 0 || n_dims > GgufLimits::kMaxDims)
            bad_file(path, where + " has " + std::to_string(n_dims) + " dimensions (GGUF allows 1 to " +
                               std::to_string(GgufLimits::kMaxDims) + ")");
        uint64_t numel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t n = c.scalar<uint64_t>(where + "'s dimensions");
            if (n == 0) bad_file(path, where + " has a dimension of 0");
            if (__builtin_mul_overflow(numel, n, &numel) || numel > uint64_t(INT64_MAX))
                bad_file(path, where + "'s dimensions multiply past 2^63 elements");
            t.dims.push_back(n);
        }
        const uint32_t type_id = c.scalar<uint32_t>(where + "'s type");
        const GgmlTypeInfo* info = find_ggml_type(type_id);
        if (!info) bad_file(path, where + " has unknown ggml type " + std::to_string(type_id));
        t.type = info->type;
        if (t.dims[0] % info->block != 0)
            bad_file(path, where + " is " + info->name + ", whose blocks of " + std::to_string(info->block) +
                               " values do not divide its innermost dimension " + std::to_string(t.dims[0]));
        // numel < 2^63 and block_bytes ≤ 292 × numel / block: the product fits in 64 bits only
        // when checked.
        if (__builtin_mul_overflow(numel / info->block, uint64_t(info->block_bytes), &t.bytes))
            bad_file(path, where + "'s data size overflows");
        t.offset = c.scalar<uint64_t>(where + "'s offset");
        if (t.offset % f.alignment_ != 0)
            bad_file(path, where + " has offset " + std::to_string(t.offset) + ", not a multiple of the alignment " +
                               std::to_string(f.alignment_));
        f.tensor_index_.emplace(t.name, f.tensors_.size());
        f.tensors_.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment.
    f.data_start_ = (c.at() + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    const uint64_t data_size = f.data_start_ < size ? size - f.data_start_ : 0;
    for (const auto& t : f.tensors_)
        if (t.offset > data_size || t.bytes > data_size - t.offset)
            bad_file(path, "tensor '" + printable(t.name) + "' spans [" + std::to_string(t.offset) + ", +" +
                               std::to_string(t.bytes) + ") of a " + std::to_string(data_size) +
                               "-byte data section (file truncated?)");
    // No two tensors share bytes: sorted by offset, each starts at or after the last one's end.
    std::vector<const GgufTensorInfo*> order;
    for (const auto& t : f.tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < order.size(); ++i)
        if (order[i]->offset < order[i - 1]->offset + order[i - 1]->bytes)
            bad_file(path, "tensor '" + printable(order[i]->name) + "' at offset " + std::to_string(order[i]->offset) +
                               " overlaps tensor '" + printable(order[i - 1]->name) + "' [" +
                               std::to_string(order[i - 1]->offset) + ", +" + std::to_string(order[i - 1]->bytes) + ")");
    return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? nullptr : &it->second;
}

void GgufFile::fail_key(const std::string& key, const std::string& what) const {
    bad_file(path_, "metadata key \"" + printable(key) + "\": " + what);
}

const GgufValue& GgufFile::require(const std::string& key, const char* wanted) const {
    const GgufValue* v = find(key);
    if (!v) fail_key(key, std::string("missing (expected ") + wanted + ")");
    return *v;
}

namespace {

// An integer value of any integer type, checked to lie in [lo, hi].
int64_t integer_in(const GgufFile& f, const std::string& key, const GgufValue& v, const char* wanted, int64_t lo,
                   uint64_t hi) {
    if (!is_integer(v.type)) f.fail_key(key, std::string("expected ") + wanted + ", got " + describe(v));
    if (v.above_int64 || v.integer < lo || (v.integer >= 0 && uint64_t(v.integer) > hi))
        f.fail_key(key, std::string("value ") +
                            (v.above_int64 ? std::to_string(v.unsigned_integer) : std::to_string(v.integer)) +
                            " does not fit in " + wanted);
    return v.integer;
}

}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
    const GgufValue& v = require(key, "string");
    if (v.type != GgufValueType::string) fail_key(key, "expected string, got " + describe(v));
    return v.text;
}

uint32_t GgufFile::get_u32(const std::string& key) const {
    return uint32_t(integer_in(*this, key, require(key, "u32"), "u32", 0, UINT32_MAX));
}

int32_t GgufFile::get_i32(const std::string& key) const {
    return int32_t(integer_in(*this, key, require(key, "i32"), "i32", INT32_MIN, INT32_MAX));
}

uint64_t GgufFile::get_u64(const std::string& key) const {
    const GgufValue& v = require(key, "u64");
    if (v.type == GgufValueType::u64) return v.unsigned_integer;
    return uint64_t(integer_in(*this, key, v, "u64", 0, UINT64_MAX));
}

float GgufFile::get_f32(const std::string& key) const {
    const GgufValue& v = require(key, "f32");
    if (!is_float(v.type)) fail_key(key, "expected f32, got " + describe(v));
    return float(v.real);
}

bool GgufFile::get_bool(const std::string& key) const {
    const GgufValue& v = require(key, "bool");
    if (v.type != GgufValueType::boolean) fail_key(key, "expected bool, got " + describe(v));
    return v.integer != 0;
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
    return has(key) ? get_string(key) : fallback;
}
uint32_t GgufFile::get_u32(const std::string& key, uint32_t fallback) const { return has(key) ? get_u32(key) : fallback; }
int32_t GgufFile::get_i32(const std::string& key, int32_t fallback) const { return has(key) ? get_i32(key) : fallback; }
uint64_t GgufFile::get_u64(const std::string& key, uint64_t fallback) const { return has(key) ? get_u64(key) : fallback; }
float GgufFile::get_f32(const std::string& key, float fallback) const { return has(key) ? get_f32(key) : fallback; }
bool GgufFile::get_bool(const std::string& key, bool fallback) const { return has(key) ? get_bool(key) : fallback; }

const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
    const GgufValue& v = require(key, "array of string");
    if (v.type != GgufValueType::array || v.element != GgufValueType::string)
        fail_key(key, "expected array of string, got " + describe(v));
    return v.texts;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
    const GgufValue& v = require(key, "array of integers");
    if (v.type != GgufValueType::array || !is_integer(v.element))
        fail_key(key, "expected array of integers, got " + describe(v));
    if (v.any_above_int64) fail_key(key, "holds a u64 element above 2^63 - 1");
    return v.integers;
}

std::vector<float> GgufFile::get_float_array(const std::string& key) const {
    const GgufValue& v = require(key, "array of f32");
    if (v.type != GgufValueType::array || !is_float(v.element))
        fail_key(key, "expected array of f32, got " + describe(v));
    return std::vector<float>(v.reals.begin(), v.reals.end());
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const unsigned char* GgufFile::tensor_data(const GgufTensorInfo& info) const {
    return bytes_ + data_start_ + info.offset;
}

Tensor GgufFile::tensor_f32(const std::string& name) const {
    const GgufTensorInfo* info = find_tensor(name);
    if (!info) bad_file(path_, "has no tensor '" + printable(name) + "'");
    return tensor_f32(*info);
}

Tensor GgufFile::tensor_f32(const GgufTensorInfo& info) const {
    if (!ggml_decodable(info.type))
        bad_file(path_, "tensor '" + printable(info.name) + "' is " + name_of(info.type) +
                            ", which attend does not read (it reads F32, F16, BF16, Q8_0 and Q4_0)");
    const unsigned char* src = tensor_data(info);
    const int64_t n = int64_t(info.numel());
    if (info.type == GgmlType::F32 && mapping_ && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
        // Zero-copy: the Storage borrows the mapped floats; its span gives the pages back when
        // the tensor goes (mapped_file.hpp).
        auto span = std::make_shared<MappedSpan>(mapping_, size_t(src - bytes_), size_t(n) * 4);
        auto storage =
            std::make_shared<Storage>(reinterpret_cast<float*>(const_cast<unsigned char*>(src)), n, std::move(span));
        return Tensor::from_storage(std::move(storage), info.shape());
    }
    Tensor t = Tensor::empty(info.shape());
    // Rows (the innermost dimension) decode independently: a whole number of blocks each.
    const GgmlTypeInfo& type = ggml_type_info(info.type);
    const int64_t row = int64_t(info.dims[0]), rows = n / row;
    const size_t row_bytes = size_t(row / type.block) * type.block_bytes;
    float* dst = t.data();
#pragma omp parallel for schedule(static) if (worth_threading(n, rows))
    for (int64_t r = 0; r < rows; ++r) dequantize_ggml(info.type, src + size_t(r) * row_bytes, dst + r * row, size_t(row));
    return t;
}

}  // namespace attend
