// io/ggml_types.hpp — ggml's tensor element types as GGUF files store them (private to src/io).
//
// Every type the format defines is known here by its number, name, block length (values per
// block) and block size (bytes per block), so a reader can check any tensor's byte span even
// when it cannot decode its values. Decoded to f32: F32, F16, BF16, Q8_0, Q4_0.
//
//   Q8_0  blocks of 32 values: f16 scale d, then 32 int8 q          value = d · q
//   Q4_0  blocks of 32 values: f16 scale d, then 16 bytes; byte j holds value j in its low
//         nibble and value j + 16 in its high nibble, each stored as q + 8   value = d · q
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace attend {

enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct GgmlTypeInfo {
    GgmlType type;
    const char* name;     // "Q8_0"
    uint32_t block;       // values per block (the innermost dimension is a multiple of it)
    uint32_t block_bytes; // bytes per block
};

// The type numbered `id`, or null when the format defines no such type (or only a removed one).
const GgmlTypeInfo* find_ggml_type(uint32_t id);
const GgmlTypeInfo& ggml_type_info(GgmlType type);
const char* name_of(GgmlType type);

// Whether dequantize_ggml decodes `type`.
bool ggml_decodable(GgmlType type);

// Decodes n values of `type` (n a multiple of its block) from `src` into `dst`. src needs no
// alignment. Only for decodable types (anything else is a logic error: attend::Error).
void dequantize_ggml(GgmlType type, const unsigned char* src, float* dst, size_t n);

// Encodes n f32 values (n a multiple of the block) as `type` into dst: F32, F16, BF16, Q8_0
// (d = max|x| / 127, q = round(x / d)) and Q4_0 (d = x_max / −8 for the x of largest
// magnitude, q = clamp(round(x / d), −8, 7)) — the rounding llama.cpp's reference quantiser uses.
void quantize_ggml(GgmlType type, const float* src, unsigned char* dst, size_t n);

}  // namespace attend
