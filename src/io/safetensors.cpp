// io/safetensors.cpp — validated safetensors reader and atomic writer.
#include "attend/io/safetensors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "attend/error.hpp"

namespace attend {

namespace {

[[noreturn]] void bad_file(const std::string& path, const std::string& what) {
    throw Error(path + ": " + what);
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
    if (exponent == 0) {
        if (mantissa == 0) bits = sign;
        else {  // subnormal: normalise
            exponent = 127 - 15 + 1;
            while (!(mantissa & 0x400)) { mantissa <<= 1; --exponent; }
            bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
        }
    } else if (exponent == 31) bits = sign | 0x7f800000 | (mantissa << 13);
    else bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bf16_to_f32(uint16_t b) {
    const uint32_t bits = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

}  // namespace

std::map<std::string, Tensor> load_safetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) bad_file(path, "cannot open file");
    in.seekg(0, std::ios::end);
    const uint64_t file_size = uint64_t(in.tellg());
    in.seekg(0);
    if (file_size < 8) bad_file(path, "truncated: " + std::to_string(file_size) + " bytes, no header length");
    uint64_t header_len = 0;
    in.read(reinterpret_cast<char*>(&header_len), 8);
    if (header_len > file_size - 8)
        bad_file(path, "header length " + std::to_string(header_len) + " exceeds the file size " +
                           std::to_string(file_size));
    std::string header(header_len, '\0');
    in.read(header.data(), std::streamsize(header_len));
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(header);
    } catch (const std::exception& e) {
        bad_file(path, std::string("header is not valid JSON: ") + e.what());
    }
    if (!meta.is_object()) bad_file(path, "header is not a JSON object");
    const uint64_t data_size = file_size - 8 - header_len;
    std::vector<char> data(data_size);
    in.read(data.data(), std::streamsize(data_size));
    if (uint64_t(in.gcount()) != data_size) bad_file(path, "could not read the data section");

    std::map<std::string, Tensor> tensors;
    for (auto& [name, entry] : meta.items()) {
        if (name == "__metadata__") continue;
        const std::string where = "tensor '" + name + "'";
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
            !entry.contains("data_offsets"))
            bad_file(path, where + " lacks dtype, shape or data_offsets");
        const auto& dtype_j = entry["dtype"];
        const auto& shape_j = entry["shape"];
        const auto& offsets_j = entry["data_offsets"];
        if (!dtype_j.is_string() || !shape_j.is_array() || !offsets_j.is_array() || offsets_j.size() != 2)
            bad_file(path, where + " has a malformed dtype, shape or data_offsets");
        const std::string dtype = dtype_j.get<std::string>();
        Shape shape;
        for (const auto& d : shape_j) {
            if (!d.is_number_unsigned()) bad_file(path, where + " has a negative or non-integer dimension");
            shape.push_back(d.get<int64_t>());
        }
        if (!offsets_j[0].is_number_unsigned() || !offsets_j[1].is_number_unsigned())
            bad_file(path, where + " has non-integer data_offsets");
        const uint64_t begin = offsets_j[0].get<uint64_t>(), end = offsets_j[1].get<uint64_t>();
        if (begin > end || end > data_size)
            bad_file(path, where + " data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                               ") lie outside the " + std::to_string(data_size) + "-byte data section");
        size_t elem_size = dtype == "F32" ? 4 : (dtype == "F16" || dtype == "BF16") ? 2 : 0;
        if (elem_size == 0) bad_file(path, where + " has dtype " + dtype + ", which attend cannot load as f32");
        int64_t n = 1;
        for (int64_t d : shape) {
            if (d != 0 && n > int64_t(data_size) / d) bad_file(path, where + " shape is larger than the file");
            n *= d;
        }
        if (uint64_t(n) * elem_size != end - begin)
            bad_file(path, where + " shape " + to_string(shape) + " needs " + std::to_string(n * elem_size) +
                               " bytes of " + dtype + " but data_offsets span " + std::to_string(end - begin));
        Tensor t = Tensor::empty(shape);
        const char* src = data.data() + begin;
        if (dtype == "F32") std::memcpy(t.data(), src, size_t(n) * 4);
        else
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, src + 2 * i, 2);
                t.data()[i] = dtype == "F16" ? f16_to_f32(h) : bf16_to_f32(h);
            }
        tensors.emplace(name, t);
    }
    return tensors;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        const uint64_t bytes = uint64_t(t.numel()) * 4;
        header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((text.size() + 8) % 8) text += ' ';  // keep the data 8-byte aligned, as the format advises
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) bad_file(path, std::string("cannot create ") + tmp + ": " + std::strerror(errno));
    const uint64_t len = text.size();
    bool ok = std::fwrite(&len, 8, 1, f) == 1 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
    for (const auto& [name, t] : tensors) {
        const std::vector<float> values = t.to_vector();
        ok = ok && std::fwrite(values.data(), 4, values.size(), f) == values.size();
    }
    ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        bad_file(path, std::string("write failed: ") + std::strerror(errno));
    }
}

}  // namespace attend
