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

#include "attend/cpu_features.hpp"

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

// ---- 8-float kernels for AVX2 -----------------------------------------------------------------
// GCC 12 keeps the avx2 clone's 64-byte vectors in memory (no register holds one without
// AVX-512): every operation goes through the stack, and that clone has no FMA either. perf on
// an AVX2-only EPYC: attention's exp_shifted took 45% of the fused attention's time. A kernel
// that matters is therefore written once as a template over the vector type (the helpers
// below take either width) and also instantiated on 8-float vectors in a function marked
// ATTEND_AVX2_FMA, which a CPU with AVX2 and FMA but no AVX-512 calls instead of the clones
// (cpu_prefers_avx2_kernels()).
typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
#define ATTEND_AVX2_FMA __attribute__((target("avx2,fma")))

inline bool cpu_prefers_avx2_kernels() {
    const CpuFeatures cpu = cpu_features();  // under ATTEND_MAX_ISA (attend/cpu_features.hpp)
    return cpu.avx2_fma && !cpu.avx512;
}

template <class F> constexpr int64_t lanes_of = int64_t(sizeof(F) / sizeof(float));
template <class F> struct int_vector;  // the int32 vector of F's width
template <> struct int_vector<f32x16> { using type = i32x16; };
template <> struct int_vector<f32x8> { using type = i32x8; };

template <class F> ATTEND_VECTOR_INLINE F load_v(const float* p) {
    F v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class F> ATTEND_VECTOR_INLINE void store_v(float* p, const F& v) { std::memcpy(p, &v, sizeof v); }
template <class F> ATTEND_VECTOR_INLINE F splat_v(float x) { return F{} + x; }

ATTEND_VECTOR_INLINE f32x16 load16(const float* p) {
    f32x16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
ATTEND_VECTOR_INLINE void store16(float* p, const f32x16& v) { std::memcpy(p, &v, sizeof v); }
ATTEND_VECTOR_INLINE f32x16 splat16(float x) { return f32x16{} + x; }

// The first n < lanes floats of p, the other lanes `fill` (chosen so they do no harm: 0 for a
// sum, −∞ for a max or an exp).
template <class F> ATTEND_VECTOR_INLINE F load_partial_v(const float* p, int64_t n, float fill) {
    float buf[lanes_of<F>];
    for (int64_t l = 0; l < lanes_of<F>; ++l) buf[l] = fill;
    std::memcpy(buf, p, size_t(n) * sizeof(float));
    return load_v<F>(buf);
}
template <class F> ATTEND_VECTOR_INLINE void store_partial_v(float* p, int64_t n, const F& v) {
    float buf[lanes_of<F>];
    store_v(buf, v);
    std::memcpy(p, buf, size_t(n) * sizeof(float));
}
// bf16 values (fp32's top half, attend/low_precision.hpp), widened as they load: 2L of them
// at p as two vectors, the even-indexed values (p[0], p[2], …) and the odd ones. Each 32-bit
// lane holds a pair, the even value in its low half (little-endian): shifted up, it is that
// value's fp32; masked, the odd one's. Two integer operations per L values, no shuffles (GCC
// 12 lowers a 16 → 32-bit conversion on 8 lanes to two 4-lane widenings and an insert).
// Kernels keep their vectors in this "pair layout" and permute back once at the end.
template <class F> ATTEND_VECTOR_INLINE void load_pairs_v(const uint16_t* p, F& even, F& odd) {
    typedef uint32_t U __attribute__((vector_size(sizeof(F))));  // unsigned: the shift drops bits, defined
    U w;
    std::memcpy(&w, p, sizeof w);
    even = (F)(w << 16);
    odd = (F)(w & 0xFFFF0000u);
}

ATTEND_VECTOR_INLINE f32x16 load16_partial(const float* p, int64_t n, float fill) {
    return load_partial_v<f32x16>(p, n, fill);
}
ATTEND_VECTOR_INLINE void store16_partial(float* p, int64_t n, const f32x16& v) { store_partial_v(p, n, v); }

template <class F> ATTEND_VECTOR_INLINE F abs_v(const F& x) {
    using I = typename int_vector<F>::type;
    return (F)((I)x & 0x7fffffff);
}
ATTEND_VECTOR_INLINE f32x16 abs16(const f32x16& x) { return abs_v(x); }

// x with the low 12 bits of its significand cleared: 12 significant bits, so its square is
// exact in float, and x − hi12(x) is exact too (the Veltkamp-free split used for x² below).
template <class F> ATTEND_VECTOR_INLINE F hi12(const F& x) {
    using I = typename int_vector<F>::type;
    return (F)((I)x & int32_t(0xfffff000));
}

// Sequential over the lanes: the same order on every clone.
template <class F> ATTEND_VECTOR_INLINE float horizontal_sum(const F& v) {
    float s = 0.f;
    for (int64_t l = 0; l < lanes_of<F>; ++l) s += v[l];
    return s;
}
template <class F> ATTEND_VECTOR_INLINE float horizontal_max(const F& v) {
    float m = v[0];
    for (int64_t l = 1; l < lanes_of<F>; ++l) m = v[l] > m ? v[l] : m;
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
template <class F> ATTEND_VECTOR_INLINE F exp_v(const F& hi, const F& lo) {
    using I = typename int_vector<F>::type;
    const F x = hi + lo;
    const F min_x = splat_v<F>(-87.33654f), max_x = splat_v<F>(88.72283f);
    const I underflow = x < min_x, overflow = x > max_x;
    F xc = x < min_x ? min_x : x;  // clamped, keeping the int conversion defined
    xc = xc > max_x ? max_x : xc;
    const F magic = splat_v<F>(12582912.f);                   // 1.5·2²³: adding it rounds to an integer
    const F n = (xc * 1.44269504088896341f + magic) - magic;  // round(x / ln2)
    const F hc = xc == x ? hi : xc;                           // a clamped x drops its lo
    F r = hc - n * 0.693359375f;                              // Cody–Waite: ln2 in two parts, r exact
    r = r - n * -2.12194440e-4f;
    r = xc == x ? r + lo : r;
    F p = splat_v<F>(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    const I ni = __builtin_convertvector(n, I);
    const I n1 = ni >> 1, n2 = ni - n1;
    const F e = p * (F)((n1 + 127) << 23) * (F)((n2 + 127) << 23);  // a vector cast reinterprets
    const F inf = (F)(I{} + 0x7f800000);
    return underflow ? splat_v<F>(0.f) : overflow ? inf : e;
}

ATTEND_VECTOR_INLINE f32x16 exp16(const f32x16& hi, const f32x16& lo) { return exp_v(hi, lo); }

// e^x, as above with no correction (adding a zero lo changes no bit of the result).
ATTEND_VECTOR_INLINE f32x16 exp16(const f32x16& x) { return exp16(x, f32x16{}); }

}  // namespace attend
