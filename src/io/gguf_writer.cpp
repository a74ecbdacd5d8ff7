// io/gguf_writer.cpp — the GGUF writer (io/gguf_writer.hpp).
#include "io/gguf_writer.hpp"

#include <algorithm>
#include <cstring>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "core/atomic_file.hpp"
#include "io/gguf.hpp"

namespace attend {

namespace {

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_string(std::string& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    out += s;
}

}  // namespace

void GgufWriter::key(const std::string& key, uint32_t type) {
    ATTEND_CHECK(!key.empty() && key.size() <= GgufLimits::kMaxKeyBytes, "GGUF metadata key of ", key.size(), " bytes");
    ATTEND_CHECK(keys_.insert(key).second, "GGUF metadata key ", key, " set twice");
    put_string(kv_, key);
    put<uint32_t>(kv_, type);
    ++n_kv_;
}

void GgufWriter::set_string(const std::string& k, const std::string& v) { key(k, uint32_t(GgufValueType::string)); put_string(kv_, v); }
void GgufWriter::set_u32(const std::string& k, uint32_t v) {
    if (k == "general.alignment") {
        ATTEND_CHECK(v > 0 && (v & (v - 1)) == 0 && v <= GgufLimits::kMaxAlignment, "general.alignment ", v,
                     " is not a power of two up to ", GgufLimits::kMaxAlignment);
        ATTEND_CHECK(tensors_.empty(), "general.alignment must be set before tensors are added");
        alignment_ = v;
    }
    key(k, uint32_t(GgufValueType::u32));
    put(kv_, v);
}
void GgufWriter::set_i32(const std::string& k, int32_t v) { key(k, uint32_t(GgufValueType::i32)); put(kv_, v); }
void GgufWriter::set_u64(const std::string& k, uint64_t v) { key(k, uint32_t(GgufValueType::u64)); put(kv_, v); }
void GgufWriter::set_f32(const std::string& k, float v) { key(k, uint32_t(GgufValueType::f32)); put(kv_, v); }
void GgufWriter::set_bool(const std::string& k, bool v) { key(k, uint32_t(GgufValueType::boolean)); put<uint8_t>(kv_, v ? 1 : 0); }

void GgufWriter::set_strings(const std::string& k, const std::vector<std::string>& values) {
    key(k, uint32_t(GgufValueType::array));
    put<uint32_t>(kv_, uint32_t(GgufValueType::string));
    put<uint64_t>(kv_, values.size());
    for (const auto& s : values) put_string(kv_, s);
}
void GgufWriter::set_f32s(const std::string& k, const std::vector<float>& values) {
    key(k, uint32_t(GgufValueType::array));
    put<uint32_t>(kv_, uint32_t(GgufValueType::f32));
    put<uint64_t>(kv_, values.size());
    kv_.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}
void GgufWriter::set_i32s(const std::string& k, const std::vector<int32_t>& values) {
    key(k, uint32_t(GgufValueType::array));
    put<uint32_t>(kv_, uint32_t(GgufValueType::i32));
    put<uint64_t>(kv_, values.size());
    kv_.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

void GgufWriter::add_tensor(const std::string& name, const Tensor& values, GgmlType type) {
    ATTEND_CHECK(!name.empty() && name.size() <= GgufLimits::kMaxNameBytes, "GGUF tensor name '", name,
                 "' is empty or longer than ", GgufLimits::kMaxNameBytes, " bytes");
    ATTEND_CHECK(tensor_names_.insert(name).second, "GGUF tensor '", name, "' added twice");
    ATTEND_CHECK(values.defined() && values.dim() >= 1 && values.dim() <= int64_t(GgufLimits::kMaxDims) &&
                     values.numel() > 0,
                 "GGUF tensor '", name, "' must have 1 to 4 non-empty dimensions, got ",
                 values.defined() ? to_string(values.shape()) : "(undefined)");
    const GgmlTypeInfo& info = ggml_type_info(type);
    const int64_t row = values.shape().back();
    ATTEND_CHECK(row % info.block == 0, "GGUF tensor '", name, "' ", to_string(values.shape()), " cannot be stored as ",
                 info.name, ": its rows of ", row, " are not whole blocks of ", info.block);
    tensors_.push_back({name, values, type, uint64_t(values.numel() / info.block) * info.block_bytes});
}

void GgufWriter::write(const std::string& path) const {
    NoGradGuard no_grad;
    std::string header = "GGUF";
    put<uint32_t>(header, 3);
    put<uint64_t>(header, tensors_.size());
    put<uint64_t>(header, n_kv_);
    header += kv_;
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const Entry& e : tensors_) {
        put_string(header, e.name);
        const Shape& shape = e.values.shape();
        put<uint32_t>(header, uint32_t(shape.size()));
        for (auto it = shape.rbegin(); it != shape.rend(); ++it) put<uint64_t>(header, uint64_t(*it));  // innermost first
        put<uint32_t>(header, uint32_t(e.type));
        offset = (offset + alignment_ - 1) / alignment_ * alignment_;
        offsets.push_back(offset);
        put<uint64_t>(header, offset);
        offset += e.bytes;
    }
    header.resize((header.size() + alignment_ - 1) / alignment_ * alignment_, '\0');

    write_atomically(path, [&](std::FILE* f) {
        if (std::fwrite(header.data(), 1, header.size(), f) != header.size()) return false;
        uint64_t at = 0;
        const std::string zeros(alignment_, '\0');
        std::vector<float> rows;
        std::vector<unsigned char> encoded;
        for (size_t i = 0; i < tensors_.size(); ++i) {
            const Entry& e = tensors_[i];
            if (std::fwrite(zeros.data(), 1, offsets[i] - at, f) != offsets[i] - at) return false;
            const GgmlTypeInfo& info = ggml_type_info(e.type);
            const int64_t row = e.values.shape().back(), n_rows = e.values.numel() / row;
            const LowPrecisionMatrix* lp = e.values.low_precision();
            const Tensor dense = lp ? Tensor() : e.values.contiguous();
            // A block of rows at a time: about 1 M values.
            const int64_t step = std::max<int64_t>(1, (int64_t(1) << 20) / row);
            for (int64_t r0 = 0; r0 < n_rows; r0 += step) {
                const int64_t r1 = std::min(n_rows, r0 + step), n = (r1 - r0) * row;
                const float* src;
                if (lp) {
                    rows.resize(size_t(n));
                    lp->dequantize_rows(r0, r1, rows.data());
                    src = rows.data();
                } else {
                    src = dense.data() + r0 * row;
                }
                encoded.resize(size_t(n / info.block) * info.block_bytes);
                quantize_ggml(e.type, src, encoded.data(), size_t(n));
                if (std::fwrite(encoded.data(), 1, encoded.size(), f) != encoded.size()) return false;
            }
            at = offsets[i] + e.bytes;
        }
        return true;
    });
}

}  // namespace attend
