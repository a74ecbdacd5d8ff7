// io/ggml_types.cpp — the ggml type table, and the block codecs attend reads and writes.
#include "io/ggml_types.hpp"
#include "io/half_float.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "attend/error.hpp"
#include "attend/low_precision.hpp"

namespace attend {

namespace {

// Numbers 31–33 and 36–38 were types ggml has since removed (repacked Q4_0 variants): a file
// using them is refused as an unknown type.
constexpr GgmlTypeInfo kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},         {GgmlType::F16, "F16", 1, 2},          {GgmlType::Q4_0, "Q4_0", 32, 18},
    {GgmlType::Q4_1, "Q4_1", 32, 20},     {GgmlType::Q5_0, "Q5_0", 32, 22},      {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},     {GgmlType::Q8_1, "Q8_1", 32, 36},      {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110},   {GgmlType::Q4_K, "Q4_K", 256, 144},    {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210},   {GgmlType::Q8_K, "Q8_K", 256, 292},    {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66},
    {GgmlType::IQ2_XS, "IQ2_XS", 256, 74}, {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98}, {GgmlType::IQ1_S, "IQ1_S", 256, 50},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18}, {GgmlType::IQ3_S, "IQ3_S", 256, 110},  {GgmlType::IQ2_S, "IQ2_S", 256, 82},
    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136}, {GgmlType::I8, "I8", 1, 1},          {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},         {GgmlType::I64, "I64", 1, 8},          {GgmlType::F64, "F64", 1, 8},
    {GgmlType::IQ1_M, "IQ1_M", 256, 56},  {GgmlType::BF16, "BF16", 1, 2},        {GgmlType::TQ1_0, "TQ1_0", 256, 54},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66},  {GgmlType::MXFP4, "MXFP4", 32, 17},
};

uint16_t load_u16(const unsigned char* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

}  // namespace

const GgmlTypeInfo* find_ggml_type(uint32_t id) {
    for (const auto& t : kTypes)
        if (uint32_t(t.type) == id) return &t;
    return nullptr;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) {
    const GgmlTypeInfo* info = find_ggml_type(uint32_t(type));
    ATTEND_CHECK(info, "no ggml type numbered ", uint32_t(type));
    return *info;
}

const char* name_of(GgmlType type) { return ggml_type_info(type).name; }

bool ggml_decodable(GgmlType type) {
    return type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16 || type == GgmlType::Q8_0 ||
           type == GgmlType::Q4_0;
}

void dequantize_ggml(GgmlType type, const unsigned char* src, float* dst, size_t n) {
    switch (type) {
        case GgmlType::F32: std::memcpy(dst, src, n * 4); return;
        case GgmlType::F16:
            for (size_t i = 0; i < n; ++i) dst[i] = half_to_float(load_u16(src + 2 * i));
            return;
        case GgmlType::BF16:
            for (size_t i = 0; i < n; ++i) dst[i] = from_bf16(load_u16(src + 2 * i));
            return;
        case GgmlType::Q8_0:
            for (size_t b = 0; b < n / 32; ++b, src += 34) {
                const float d = half_to_float(load_u16(src));
                for (int j = 0; j < 32; ++j) dst[b * 32 + j] = d * float(int8_t(src[2 + j]));
            }
            return;
        case GgmlType::Q4_0:
            for (size_t b = 0; b < n / 32; ++b, src += 18) {
                const float d = half_to_float(load_u16(src));
                for (int j = 0; j < 16; ++j) {
                    dst[b * 32 + j] = d * float(int(src[2 + j] & 0x0f) - 8);
                    dst[b * 32 + j + 16] = d * float(int(src[2 + j] >> 4) - 8);
                }
            }
            return;
        default: break;
    }
    ATTEND_CHECK(false, "attend does not decode ggml type ", name_of(type));
}

void quantize_ggml(GgmlType type, const float* src, unsigned char* dst, size_t n) {
    switch (type) {
        case GgmlType::F32: std::memcpy(dst, src, n * 4); return;
        case GgmlType::F16:
            for (size_t i = 0; i < n; ++i) {
                const uint16_t h = float_to_half(src[i]);
                std::memcpy(dst + 2 * i, &h, 2);
            }
            return;
        case GgmlType::BF16:
            for (size_t i = 0; i < n; ++i) {
                const uint16_t h = to_bf16(src[i]);
                std::memcpy(dst + 2 * i, &h, 2);
            }
            return;
        case GgmlType::Q8_0:
            for (size_t b = 0; b < n / 32; ++b, dst += 34) {
                const float* x = src + b * 32;
                float amax = 0.f;
                for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
                const float d = amax / 127.f, id = d ? 1.f / d : 0.f;
                const uint16_t h = float_to_half(d);
                std::memcpy(dst, &h, 2);
                for (int j = 0; j < 32; ++j) dst[2 + j] = uint8_t(int8_t(std::lround(x[j] * id)));
            }
            return;
        case GgmlType::Q4_0:
            for (size_t b = 0; b < n / 32; ++b, dst += 18) {
                const float* x = src + b * 32;
                float amax = 0.f, max = 0.f;  // the value of largest magnitude, with its sign
                for (int j = 0; j < 32; ++j)
                    if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
                const float d = max / -8.f, id = d ? 1.f / d : 0.f;
                const uint16_t h = float_to_half(d);
                std::memcpy(dst, &h, 2);
                for (int j = 0; j < 16; ++j) {
                    const int lo = std::min(15, int(x[j] * id + 8.5f));
                    const int hi = std::min(15, int(x[j + 16] * id + 8.5f));
                    dst[2 + j] = uint8_t(lo | (hi << 4));
                }
            }
            return;
        default: break;
    }
    ATTEND_CHECK(false, "attend does not encode ggml type ", name_of(type));
}

}  // namespace attend
