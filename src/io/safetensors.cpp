// io/safetensors.cpp — the safetensors reader (mmap, validated, zero-copy F32) and the atomic
// writer.
//
// Reading is two steps with a wall between them: parse_safetensors_header checks the whole
// header against the bytes actually there, and only then are Tensors made from the spans it
// vouched for. Nothing reads a byte outside the file, whatever the header claims — the
// libFuzzer target (fuzz/safetensors.cpp) holds us to that.
#include "attend/io/safetensors.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "core/atomic_file.hpp"
#include "io/half_float.hpp"
#include "io/mapped_file.hpp"

namespace attend {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader maps it as is");

namespace {

// The format's header is capped at 100 MB (as the reference implementation caps it): a
// larger length is a corrupt or hostile file, not a real one.
constexpr uint64_t kMaxHeader = 100'000'000;

// Every dtype the format defines, with its element size; attend holds the first three.
struct DtypeInfo {
    const char* name;
    uint64_t bytes;
};
constexpr DtypeInfo kDtypes[] = {{"F32", 4},  {"F16", 2},  {"BF16", 2}, {"F64", 8},     {"I64", 8},
                                 {"U64", 8},  {"I32", 4},  {"U32", 4},  {"I16", 2},     {"U16", 2},
                                 {"I8", 1},   {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};

const DtypeInfo* find_dtype(const std::string& name) {
    for (const auto& d : kDtypes)
        if (name == d.name) return &d;
    return nullptr;
}

bool loadable(const std::string& dtype) { return dtype == "F32" || dtype == "F16" || dtype == "BF16"; }

float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

std::string span_text(uint64_t begin, uint64_t end) {
    std::string text = "[";  // built up: GCC 12 warns falsely on "[" + std::to_string(...)
    return text.append(std::to_string(begin)).append(", ").append(std::to_string(end)).append(")");
}

// What keeps a low-precision matrix's mapped bytes alive: its spans of the mapping (released
// when the matrix goes), or nothing when it was copied.
std::shared_ptr<void> span_owner(const std::shared_ptr<MappedFile>& mapping, const unsigned char* bytes,
                                 const std::vector<std::pair<const unsigned char*, size_t>>& spans) {
    if (!mapping) return nullptr;
    auto owned = std::make_shared<std::vector<std::shared_ptr<MappedSpan>>>();
    for (const auto& [p, n] : spans) owned->push_back(std::make_shared<MappedSpan>(mapping, size_t(p - bytes), n));
    return owned;
}

// A BF16 (R, C) entry kept in bf16: adopted in place when mapped and 2-byte aligned, else copied.
Tensor bf16_matrix(const SafetensorsEntry& e, const unsigned char* src, const unsigned char* bytes,
                   const std::shared_ptr<MappedFile>& mapping) {
    const int64_t n = e.shape[0] * e.shape[1];
    if (mapping && reinterpret_cast<uintptr_t>(src) % alignof(uint16_t) == 0)
        return low_precision_tensor(LowPrecisionMatrix::adopt_bf16(e.shape[0], e.shape[1],
                                                                   reinterpret_cast<const uint16_t*>(src),
                                                                   span_owner(mapping, bytes, {{src, size_t(n) * 2}})));
    std::vector<uint16_t> copy(static_cast<size_t>(n));
    std::memcpy(copy.data(), src, size_t(n) * 2);
    return low_precision_tensor(LowPrecisionMatrix::adopt_bf16(e.shape[0], e.shape[1], copy.data(), nullptr));
}

// An I8 (R, C) entry and its F32 scale entry (R, ceil(C / 32)), checked, as one int8 matrix.
Tensor int8_matrix(const SafetensorsEntry& e, const SafetensorsEntry* scale, const unsigned char* bytes,
                   uint64_t data_start, const std::shared_ptr<MappedFile>& mapping, const std::string& path) {
    const std::string where = "tensor '" + e.name + "'";
    if (e.shape.size() != 2 || e.shape[0] == 0 || e.shape[1] == 0)
        bad_file(path, where + " is I8 of shape " + to_string(e.shape) + "; attend reads I8 only as a non-empty matrix");
    if (!scale) bad_file(path, where + " is I8 but the file has no scale tensor for it");
    const int64_t rows = e.shape[0], cols = e.shape[1];
    const Shape want{rows, (cols + LowPrecisionMatrix::kBlock - 1) / LowPrecisionMatrix::kBlock};
    if (scale->dtype != "F32" || scale->shape != want)
        bad_file(path, "tensor '" + scale->name + "' (the scales of " + e.name + ") is " + scale->dtype + " " +
                           to_string(scale->shape) + ", expected F32 " + to_string(want));
    const unsigned char* values = bytes + data_start + e.begin;
    const unsigned char* scales = bytes + data_start + scale->begin;
    const size_t n_scales = size_t(want[0] * want[1]);
    try {
        if (mapping && reinterpret_cast<uintptr_t>(scales) % alignof(float) == 0)
            return low_precision_tensor(LowPrecisionMatrix::adopt_int8(
                rows, cols, reinterpret_cast<const int8_t*>(values), reinterpret_cast<const float*>(scales),
                span_owner(mapping, bytes, {{values, size_t(rows * cols)}, {scales, n_scales * 4}})));
        std::vector<float> copy(n_scales);  // a float* must be aligned
        std::memcpy(copy.data(), scales, n_scales * 4);
        return low_precision_tensor(
            LowPrecisionMatrix::adopt_int8(rows, cols, reinterpret_cast<const int8_t*>(values), copy.data(), nullptr));
    } catch (const Error& err) {  // a scale that is not finite and ≥ 0
        bad_file(path, where + ": " + err.what());
    }
}

// Tensors from a validated header over `bytes`. With a `mapping` (whose bytes they are),
// aligned F32 spans are borrowed; without one, everything is copied.
SafetensorsContents materialise(const SafetensorsHeader& header, const unsigned char* bytes,
                                const std::shared_ptr<MappedFile>& mapping, const std::string& path,
                                const TensorFilter& wanted, const LowPrecisionReading& lp) {
    SafetensorsContents out;
    out.metadata = header.metadata;
    // int8 matrices and their scale entries, paired by name (the scales are not returned alone).
    std::map<std::string, const SafetensorsEntry*> by_name;
    std::map<std::string, std::string> scale_of;  // scale entry name -> its matrix's name
    if (!lp.int8_scale_suffix.empty()) {
        for (const auto& e : header.tensors) by_name[e.name] = &e;
        for (const auto& e : header.tensors)
            if (e.dtype == "I8") scale_of[e.name + lp.int8_scale_suffix] = e.name;
    }
    for (const auto& e : header.tensors) {
        if (wanted && !wanted(e.name)) continue;
        if (scale_of.count(e.name)) continue;  // read with its matrix
        const unsigned char* src = bytes + header.data_start + e.begin;
        if (e.dtype == "I8" && !lp.int8_scale_suffix.empty()) {
            auto s = by_name.find(e.name + lp.int8_scale_suffix);
            out.tensors.emplace(e.name, int8_matrix(e, s == by_name.end() ? nullptr : s->second, bytes,
                                                    header.data_start, mapping, path));
            continue;
        }
        if (e.dtype == "BF16" && e.shape.size() == 2 && e.shape[0] > 0 && e.shape[1] > 0 && lp.bf16 && lp.bf16(e.name)) {
            out.tensors.emplace(e.name, bf16_matrix(e, src, bytes, mapping));
            continue;
        }
        if (!loadable(e.dtype))
            bad_file(path, "tensor '" + e.name + "' has dtype " + e.dtype +
                               ", which attend cannot hold (it loads F32, and F16/BF16 widened to f32)");
        const int64_t n = numel_of(e.shape);
        Tensor t;
        if (e.dtype == "F32") {
            if (mapping && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0 && n > 0) {
                // Zero-copy: the Storage borrows the mapped floats and holds its span of the
                // mapping, which gives its pages back when the tensor goes (mapped_file.hpp).
                auto span = std::make_shared<MappedSpan>(mapping, size_t(src - bytes), size_t(n) * 4);
                auto storage = std::make_shared<Storage>(
                    reinterpret_cast<float*>(const_cast<unsigned char*>(src)), n, std::move(span));
                t = Tensor::from_storage(std::move(storage), e.shape);
            } else {  // unaligned (or from memory): copy, since a float* must be aligned
                t = Tensor::empty(e.shape);
                if (n > 0) std::memcpy(t.data(), src, size_t(n) * 4);
            }
        } else {
            t = Tensor::empty(e.shape);
            float* dst = t.data();
            const bool half = e.dtype == "F16";
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, src + 2 * i, 2);
                dst[i] = half ? half_to_float(h) : bf16_to_f32(h);
            }
        }
        out.tensors.emplace(e.name, std::move(t));
    }
    return out;
}

// The file's bytes materialise reads for `wanted`: every wanted entry's, and every int8 scale
// entry's (read with its matrix whatever the filter says of the scale) — a few more than it
// reads at most, never fewer.
MappedFile::Ranges bytes_read(const SafetensorsHeader& header, const TensorFilter& wanted,
                              const LowPrecisionReading& lp) {
    MappedFile::Ranges ranges;
    const std::string& suffix = lp.int8_scale_suffix;
    for (const auto& e : header.tensors)
        if (!wanted || wanted(e.name) || (!suffix.empty() && e.name.ends_with(suffix)))
            ranges.emplace_back(header.data_start + e.begin, header.data_start + e.end);
    return ranges;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const void* data, size_t size, const std::string& path) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    if (size < 8)
        bad_file(path, "truncated: " + std::to_string(size) + " bytes, too short for the 8-byte header length");
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes, 8);
    if (header_len > size - 8)
        bad_file(path, "header length " + std::to_string(header_len) + " exceeds the " + std::to_string(size - 8) +
                           " bytes after the length field (truncated, or not a safetensors file)");
    if (header_len > kMaxHeader)
        bad_file(path, "header length " + std::to_string(header_len) + " exceeds the format's limit of " +
                           std::to_string(kMaxHeader) + " bytes");
    if (header_len < 2) bad_file(path, "header of " + std::to_string(header_len) + " bytes cannot hold a JSON object");

    nlohmann::json meta;
    try {
        const char* text = reinterpret_cast<const char*>(bytes + 8);
        meta = nlohmann::json::parse(text, text + header_len);
    } catch (const nlohmann::json::exception& e) {
        bad_file(path, std::string("header is not valid JSON: ") + e.what());
    }
    if (!meta.is_object()) bad_file(path, "header is not a JSON object");

    SafetensorsHeader header;
    header.data_start = 8 + header_len;
    header.data_size = size - header.data_start;
    for (const auto& [name, entry] : meta.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object()) bad_file(path, "__metadata__ is not a JSON object");
            for (const auto& [key, value] : entry.items()) {
                if (!value.is_string()) bad_file(path, "__metadata__ value of '" + key + "' is not a string");
                header.metadata[key] = value.get<std::string>();
            }
            continue;
        }
        const std::string where = "tensor '" + name + "'";
        if (name.empty()) bad_file(path, "a tensor has an empty name");
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
            !entry.contains("data_offsets"))
            bad_file(path, where + " lacks dtype, shape or data_offsets");
        const auto& dtype_j = entry["dtype"];
        const auto& shape_j = entry["shape"];
        const auto& offsets_j = entry["data_offsets"];
        if (!dtype_j.is_string()) bad_file(path, where + " has a dtype that is not a string");
        SafetensorsEntry e;
        e.name = name;
        e.dtype = dtype_j.get<std::string>();
        const DtypeInfo* info = find_dtype(e.dtype);
        if (!info) bad_file(path, where + " has unknown dtype '" + e.dtype + "'");
        if (!shape_j.is_array()) bad_file(path, where + " has a shape that is not an array");
        // numel, and the product of the non-zero dimensions (the largest stride a tensor of
        // this shape computes), must both fit in an int64.
        uint64_t numel = 1, extent = 1;
        bool overflow = false;
        for (const auto& d : shape_j) {
            if (!d.is_number_unsigned()) bad_file(path, where + " has a negative or non-integer dimension in its shape");
            const uint64_t v = d.get<uint64_t>();
            overflow = overflow || __builtin_mul_overflow(numel, v, &numel) ||
                       __builtin_mul_overflow(extent, std::max<uint64_t>(v, 1), &extent) ||
                       extent > uint64_t(INT64_MAX);
            e.shape.push_back(int64_t(std::min<uint64_t>(v, uint64_t(INT64_MAX))));
        }
        if (!offsets_j.is_array() || offsets_j.size() != 2 || !offsets_j[0].is_number_unsigned() ||
            !offsets_j[1].is_number_unsigned())
            bad_file(path, where + " data_offsets is not a pair of non-negative integers");
        e.begin = offsets_j[0].get<uint64_t>();
        e.end = offsets_j[1].get<uint64_t>();
        if (e.begin > e.end) bad_file(path, where + " data_offsets " + span_text(e.begin, e.end) + " end before they begin");
        if (e.end > header.data_size)
            bad_file(path, where + " data_offsets " + span_text(e.begin, e.end) + " lie outside the " +
                               std::to_string(header.data_size) + "-byte data section (file truncated?)");
        uint64_t bytes_needed = 0;
        overflow = overflow || __builtin_mul_overflow(numel, info->bytes, &bytes_needed);
        if (overflow || bytes_needed != e.end - e.begin)
            bad_file(path, where + " shape " + to_string(e.shape) + " of " + e.dtype + " needs " +
                               (overflow ? std::string("more bytes than exist") : std::to_string(bytes_needed)) +
                               " bytes but data_offsets " + span_text(e.begin, e.end) + " span " +
                               std::to_string(e.end - e.begin));
        header.tensors.push_back(std::move(e));
    }

    // No two tensors may share bytes: sorted by start, each begins where the last one ended or
    // later (empty tensors own no bytes and overlap nothing). Gaps are allowed.
    std::sort(header.tensors.begin(), header.tensors.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const SafetensorsEntry* last = nullptr;
    for (const auto& e : header.tensors) {
        if (e.begin == e.end) continue;
        if (last && e.begin < last->end)
            bad_file(path, "tensor '" + e.name + "' data_offsets " + span_text(e.begin, e.end) +
                               " overlap tensor '" + last->name + "' " + span_text(last->begin, last->end));
        if (!last || e.end > last->end) last = &e;
    }
    return header;
}

SafetensorsContents read_safetensors(const std::string& path, const TensorFilter& wanted,
                                     const LowPrecisionReading& low_precision) {
    std::shared_ptr<MappedFile> mapping = open_model_file(path);
    const SafetensorsHeader header = parse_safetensors_header(mapping->bytes(), mapping->size(), path);
    // The header has vouched for the spans: read those materialise reads (unless mapped).
    mapping->make_resident(bytes_read(header, wanted, low_precision));
    return materialise(header, mapping->bytes(), mapping, path, wanted, low_precision);
}

SafetensorsContents parse_safetensors(const void* bytes, size_t size, const std::string& name,
                                      const TensorFilter& wanted, const LowPrecisionReading& low_precision) {
    const SafetensorsHeader header = parse_safetensors_header(bytes, size, name);
    return materialise(header, static_cast<const unsigned char*>(bytes), nullptr, name, wanted, low_precision);
}

std::map<std::string, Tensor> load_safetensors(const std::string& path) { return read_safetensors(path).tensors; }

namespace {

// How a tensor is written: its dtype, and its bytes (a contiguous copy for F32 views).
struct Written {
    const char* dtype;
    const void* data;
    uint64_t bytes;
    Tensor keep;  // the contiguous copy `data` points into, when one was made
};

Written as_written(const Tensor& t) {
    if (const LowPrecisionMatrix* m = t.low_precision()) {
        const uint64_t n = uint64_t(m->rows() * m->cols());
        if (m->type() == WeightType::bf16) return {"BF16", m->bf16(), 2 * n, {}};
        return {"I8", m->int8(), n, {}};
    }
    Tensor c = t.contiguous();
    const void* data = c.numel() ? static_cast<const void*>(c.data()) : nullptr;
    return {"F32", data, uint64_t(c.numel()) * 4, c};
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    NoGradGuard no_grad;
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<Written> written;
    std::vector<uint64_t> begins;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (name.empty() || name == "__metadata__") bad_file(path, "cannot write a tensor named '" + name + "'");
        if (!t.defined()) bad_file(path, "tensor '" + name + "' is undefined");
        written.push_back(as_written(t));
        const Written& w = written.back();
        // Every tensor 4-byte aligned (after 1- or 2-byte data too), so F32 data and int8
        // scales are read in place; an all-F32 file has no gaps, as before.
        offset = (offset + 3) / 4 * 4;
        begins.push_back(offset);
        header[name] = {{"dtype", w.dtype}, {"shape", t.shape()}, {"data_offsets", {offset, offset + w.bytes}}};
        offset += w.bytes;
    }
    std::string text = header.dump();
    // The data starts on a cache line (the format asks for 8 bytes; spaces pad the header): the
    // F32 weights a reader maps in place are then as aligned as the kernels' 64-byte loads
    // want. Measured: GPT-2 small f32 decode (`attend generate`, one thread, alternating, a
    // build running beside) from a file whose data started at 16 mod 64: 26 tok/s; the same
    // file with its header padded to 0 mod 64: 46.
    while ((text.size() + 8) % 64) text += ' ';

    write_atomically(path, [&](std::FILE* f) {
        const uint64_t len = text.size();
        bool ok = std::fwrite(&len, 8, 1, f) == 1 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
        uint64_t at = 0;
        static const char zeros[4] = {};
        for (size_t i = 0; i < written.size() && ok; ++i) {
            const uint64_t pad = begins[i] - at;  // the gap before an aligned tensor (< 4 bytes)
            ok = pad == 0 || std::fwrite(zeros, 1, pad, f) == pad;
            ok = ok && (written[i].bytes == 0 || std::fwrite(written[i].data, 1, written[i].bytes, f) == written[i].bytes);
            at = begins[i] + written[i].bytes;
        }
        return ok;
    });
}

}  // namespace attend
