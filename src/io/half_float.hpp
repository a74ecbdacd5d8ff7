// io/half_float.hpp — IEEE 754 half precision ↔ float, for the file formats that store F16
// (safetensors, GGUF). Private to src/.
#pragma once
#include <cstdint>

namespace attend {

// Exact: subnormals, infinities and NaNs included.
float half_to_float(uint16_t h);
// Rounds to nearest even; past 65504 gives infinity; NaN stays NaN.
uint16_t float_to_half(float x);

}  // namespace attend
