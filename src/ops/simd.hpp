// ops/simd.hpp — the vector primitives under the row kernels (src/ops, attention/fused.cpp):
// 16-float GCC vectors, loads and stores, eˣ, horizontal reductions, and the one definition
// of ATTEND_SIMD_CLONES. Internal to src/.
//
// Kernels are written once on 16-float GCC vectors and compiled as target clones: GCC lowers
// each vector operation to the clone's registers (one zmm, two ymm, four xmm) and the loader
// picks the clone for the CPU it runs on. Plain loops with `omp simd` often do not vectorise
// with GCC 12 (control flow in a max reduction, clamps in a polynomial), these always do.
// The avx512f clone also has FMA, and GCC contracts a·b + c into it (C++ defaults to
// -ffp-contract=fast): its results may differ from the avx2 and default clones by roundings.
// tests/test_activation_simd.cpp and test_simd_targets.cpp compile the kernels under each
// target to check them all.
#pragma once
#include <cstdint>
#include <cstring>

// A function compiled three times, the loader picking one per CPU (GCC's ifunc). A test may
// define it first to compile a kernel file for one target (tests/test_simd_targets.cpp).
#ifndef ATTEND_SIMD_CLONES
#define ATTEND_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

// Every helper below is always inlined into a clone, so the vectors never cross a call
// (GCC's -Wpsabi note about passing 64-byte vectors without AVX-512 does not apply).
#define ATTEND_VECTOR_INLINE inline __attribute__((always_inline))
#pragma GCC diagnostic ignored "-Wpsabi"

namespace attend {

typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));
constexpr int64_t kLanes = 16;

ATTEND_VECTOR_INLINE f32x16 load16(const float* p) {
    f32x16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
ATTEND_VECTOR_INLINE void store16(float* p, const f32x16& v) { std::memcpy(p, &v, sizeof v); }
ATTEND_VECTOR_INLINE f32x16 splat16(float x) { return f32x16{} + x; }

// The first n < 16 floats of p, the other lanes `fill` (chosen so they do no harm: 0 for a
// sum, −∞ for a max or an exp).
ATTEND_VECTOR_INLINE f32x16 load16_partial(const float* p, int64_t n, float fill) {
    float buf[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) buf[l] = fill;
    std::memcpy(buf, p, size_t(n) * sizeof(float));
    return load16(buf);
}
ATTEND_VECTOR_INLINE void store16_partial(float* p, int64_t n, const f32x16& v) {
    float buf[kLanes];
    store16(buf, v);
    std::memcpy(p, buf, size_t(n) * sizeof(float));
}

ATTEND_VECTOR_INLINE f32x16 abs16(const f32x16& x) { return (f32x16)((i32x16)x & 0x7fffffff); }

// x with the low 12 bits of its significand cleared: 12 significant bits, so its square is
// exact in float, and x − hi12(x) is exact too (the Veltkamp-free split used for x² below).
ATTEND_VECTOR_INLINE f32x16 hi12(const f32x16& x) { return (f32x16)((i32x16)x & int32_t(0xfffff000)); }

// Sequential over the lanes: the same order on every clone.
ATTEND_VECTOR_INLINE float horizontal_sum(const f32x16& v) {
    float s = 0.f;
    for (int64_t l = 0; l < kLanes; ++l) s += v[l];
    return s;
}
ATTEND_VECTOR_INLINE float horizontal_max(const f32x16& v) {
    float m = v[0];
    for (int64_t l = 1; l < kLanes; ++l) m = v[l] > m ? v[l] : m;
    return m;
}

// e^(hi + lo), lo a small correction carried separately (hi + lo is not rounded to one
// float). Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 polynomial, 2ⁿ by
// writing exponent bits. Relative error ≤ 1e-7 (measured against std::exp in double on every
// fifth float of [−87.34, 88.72], with and without FMA: 8.4e-8 and 8.2e-8 at worst).
//   x > 88.72 (ln FLT_MAX) → +∞;   x < −87.34 (FLT_MIN's log) → exactly 0 (no subnormals:
//   softmax and attention rows then never carry them into a GEMM), −∞ → 0;  NaN → NaN.
// 2ⁿ is applied in two halves, so n = 128 (x just below ln FLT_MAX) does not overflow early;
// each half is exact, so p·2^(n/2)·2^(n − n/2) rounds exactly like p·2ⁿ.
//
// Why lo: e^x amplifies an absolute error δ in x to a relative error δ. When x = −z² with
// z² ≈ 80, rounding z² to float alone costs ulp(80)/2 ≈ 4e-6; callers that know x as an
// exact hi plus a small lo keep that error out (erfc's tail in activation_simd.hpp).
ATTEND_VECTOR_INLINE f32x16 exp16(const f32x16& hi, const f32x16& lo) {
    const f32x16 x = hi + lo;
    const f32x16 min_x = splat16(-87.33654f), max_x = splat16(88.72283f);
    const i32x16 underflow = x < min_x, overflow = x > max_x;
    f32x16 xc = x < min_x ? min_x : x;  // clamped, keeping the int conversion defined
    xc = xc > max_x ? max_x : xc;
    const f32x16 magic = splat16(12582912.f);                     // 1.5·2²³: adding it rounds to an integer
    const f32x16 n = (xc * 1.44269504088896341f + magic) - magic;  // round(x / ln2)
    const f32x16 hc = xc == x ? hi : xc;                          // a clamped x drops its lo
    f32x16 r = hc - n * 0.693359375f;                              // Cody–Waite: ln2 in two parts, r exact
    r = r - n * -2.12194440e-4f;
    r = xc == x ? r + lo : r;
    f32x16 p = splat16(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    const i32x16 ni = __builtin_convertvector(n, i32x16);
    const i32x16 n1 = ni >> 1, n2 = ni - n1;
    const f32x16 e = p * (f32x16)((n1 + 127) << 23) * (f32x16)((n2 + 127) << 23);  // a vector cast reinterprets
    const f32x16 inf = (f32x16)(i32x16{} + 0x7f800000);
    return underflow ? splat16(0.f) : overflow ? inf : e;
}

// e^x, as above with no correction (adding a zero lo changes no bit of the result).
ATTEND_VECTOR_INLINE f32x16 exp16(const f32x16& x) { return exp16(x, f32x16{}); }

}  // namespace attend
