// io/half_float.cpp — IEEE half ↔ float by bits (io/half_float.hpp).
#include "io/half_float.hpp"

#include <bit>
#include <cmath>

namespace attend {

float half_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
    if (exponent == 0) {
        if (mantissa == 0) bits = sign;
        else {  // subnormal: shift the mantissa up until its leading 1 is the implicit bit
            exponent = 127 - 15 + 1;
            while (!(mantissa & 0x400)) { mantissa <<= 1; --exponent; }
            bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
        }
    } else if (exponent == 31) bits = sign | 0x7f800000 | (mantissa << 13);
    else bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float x) {
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    const uint16_t sign = uint16_t((bits >> 16) & 0x8000);
    const uint32_t abs = bits & 0x7fffffff;
    if (abs > 0x7f800000) return uint16_t(sign | 0x7e00);  // NaN stays NaN
    if (abs >= 0x477ff000) return uint16_t(sign | 0x7c00); // rounds past 65504: infinity
    if (abs < 0x38800000) {  // below the smallest normal half: a subnormal (or zero)
        // value / 2^-24, rounded to nearest even, is the subnormal's mantissa.
        const float scaled = std::bit_cast<float>(abs) * 16777216.f;  // exact: a power of two
        return uint16_t(sign | uint16_t(std::nearbyint(scaled)));
    }
    // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
    uint32_t h = ((abs >> 13) - ((127 - 15) << 10));
    const uint32_t rest = abs & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
    return uint16_t(sign | h);
}

}  // namespace attend
