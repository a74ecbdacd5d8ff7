// The vector activations (src/ops/activation_simd.hpp) on every SIMD target, against double
// precision, and the library's dispatched ops against them bit for bit.
//
// The library compiles its row loops as target clones and runs the one this CPU supports. To
// check the others too, this file compiles the same header under explicit targets (avx512f,
// avx2, and the baseline x86-64 that the "default" clone is) and runs each that the CPU can;
// also on 8-float vectors under avx2 + fma, which the library runs where AVX-512 is missing.
// avx512f brings FMA, which GCC contracts a·b + c into (C++ defaults to -ffp-contract=fast),
// so that target may differ from the others by roundings; each is held to the same accuracy,
// and the library's dispatched op must equal, bit for bit, the target the loader picks.
//
// References, in double from the same float x:
//   gelu      x Φ(x) = ½ x erfc(−x/√2)              (std::erfc: no cancellation for x ≪ 0)
//   gelu′     Φ(x) + x φ(x)
//   gelu_tanh x / (1 + e^(−2u)), u = √(2/π)(x + κx³)  (= ½ x (1 + tanh u); std::tanh in double
//             cancels in 1 + tanh u for x ≪ 0, so the tanh form is checked only where it does not)
//   silu      x / (1 + e^(−x)),  sigmoid 1 / (1 + e^(−x))
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/ops.hpp"
#include "ops/activation_simd.hpp"

using namespace attend;
namespace vec = attend::activation_simd;

namespace {

// ---- the three lowerings of the same header ----------------------------------------------------
template <class F>
__attribute__((target("avx512f"))) void forward_avx512(const float* x, float* y, int64_t n) {
    vec::forward_row<F>(x, y, n);
}
template <class F>
__attribute__((target("avx512f"))) void backward_avx512(const float* x, const float* g, float* d, int64_t n) {
    vec::backward_row<F>(x, g, d, n);
}
template <class F>
__attribute__((target("avx2"))) void forward_avx2(const float* x, float* y, int64_t n) {
    vec::forward_row<F>(x, y, n);
}
template <class F>
__attribute__((target("avx2"))) void backward_avx2(const float* x, const float* g, float* d, int64_t n) {
    vec::backward_row<F>(x, g, d, n);
}
// What the library runs on a CPU with AVX2 + FMA and no AVX-512 (ops/simd.hpp): 8 floats.
template <class F>
__attribute__((target("avx2,fma"))) void forward_avx2_8(const float* x, float* y, int64_t n) {
    vec::forward_row<F, f32x8>(x, y, n);
}
template <class F>
__attribute__((target("avx2,fma"))) void backward_avx2_8(const float* x, const float* g, float* d, int64_t n) {
    vec::backward_row<F, f32x8>(x, g, d, n);
}
template <class F>
void forward_baseline(const float* x, float* y, int64_t n) {
    vec::forward_row<F>(x, y, n);
}
template <class F>
void backward_baseline(const float* x, const float* g, float* d, int64_t n) {
    vec::backward_row<F>(x, g, d, n);
}

using ForwardFn = void (*)(const float*, float*, int64_t);
using BackwardFn = void (*)(const float*, const float*, float*, int64_t);

struct Target {
    std::string name;
    bool supported;
};

// Targets this CPU runs; the baseline always (it is what the "default" clone runs).
std::vector<Target> targets() {
    __builtin_cpu_init();
    return {{"avx512f", bool(__builtin_cpu_supports("avx512f"))},
            {"avx2+fma, 8 floats", __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
            {"avx2", bool(__builtin_cpu_supports("avx2"))},
            {"default", true}};
}

template <class F>
ForwardFn forward_for(const std::string& t) {
    return t == "avx512f"              ? forward_avx512<F>
           : t == "avx2+fma, 8 floats" ? forward_avx2_8<F>
           : t == "avx2"               ? forward_avx2<F>
                                       : forward_baseline<F>;
}
template <class F>
BackwardFn backward_for(const std::string& t) {
    return t == "avx512f"              ? backward_avx512<F>
           : t == "avx2+fma, 8 floats" ? backward_avx2_8<F>
           : t == "avx2"               ? backward_avx2<F>
                                       : backward_baseline<F>;
}

// ---- references in double ------------------------------------------------------------------------
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kKappa = 0.044715;

double gelu_ref(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double gelu_grad_ref(double x) {
    return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
}
double sigma(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double tanh_u(double x) { return kSqrt2OverPi * (x + kKappa * x * x * x); }
double gelu_tanh_ref(double x) { return x * sigma(2 * tanh_u(x)); }
double gelu_tanh_grad_ref(double x) {
    const double s = sigma(2 * tanh_u(x)), du = kSqrt2OverPi * (1 + 3 * kKappa * x * x);
    return s + 2 * x * s * sigma(-2 * tanh_u(x)) * du;  // 1 − σ(v) = σ(−v): no cancellation
}
double silu_ref(double x) { return x * sigma(x); }
double silu_grad_ref(double x) { return sigma(x) * (1 + x * sigma(-x)); }
double sigmoid_ref(double x) { return sigma(x); }
double sigmoid_grad_ref(double x) { return sigma(x) * sigma(-x); }

// Error in units of the last place of the float nearest the reference. Below 64·FLT_MIN
// (≈ 7.5e-37) the unit is that floor instead: exp16 flushes results under FLT_MIN to 0
// (ops/simd.hpp), so GELU's and SiLU's far tails (x < −13, y or y′ ≲ 1e-37) may be 0 where
// double has a tiny value; torch's float formulas give 0 there too.
double ulps(float got, double want) {
    if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
    constexpr double kFloor = 64.0 * std::numeric_limits<float>::min();
    const double w = std::fabs(double(float(want)));
    const double unit = w < kFloor ? kFloor : std::ldexp(1.0, std::ilogb(w) - 23);
    return std::fabs(double(got) - want) / unit;
}

// The sweep: 2²¹ evenly spaced points of [−10, 10] (a non-multiple of 16, so tails run), then
// log-spaced magnitudes 1e-30 … 30 of both signs for the tiny and the tail regions.
std::vector<float> sweep() {
    std::vector<float> x;
    const int n = (1 << 21) + 7;
    for (int i = 0; i < n; ++i) x.push_back(float(-10.0 + 20.0 * i / (n - 1)));
    for (int i = 0; i <= 20000; ++i) {
        const float m = float(std::pow(10.0, -30.0 + 31.5 * i / 20000));  // up to ~31.6
        x.push_back(m);
        x.push_back(-m);
    }
    return x;
}

struct Worst {
    double ulps = 0;
    float at = 0;
    void see(double u, float x) {
        if (u > ulps) ulps = u, at = x;
    }
};

// Checks F on one target: forward and derivative within `tol(x)` ulps of the references.
template <class F>
void check_accuracy(const std::string& target, const char* name, double (*ref)(double), double (*grad_ref)(double),
                    const std::function<double(float)>& forward_tol, const std::function<double(float)>& grad_tol) {
    const std::vector<float> x = sweep();
    const int64_t n = int64_t(x.size());
    std::vector<float> y(n), d(n), ones(n, 1.f);
    forward_for<F>(target)(x.data(), y.data(), n);
    backward_for<F>(target)(x.data(), ones.data(), d.data(), n);
    Worst wf, wd;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double uf = ulps(y[i], ref(x[i])), ud = ulps(d[i], grad_ref(x[i]));
        wf.see(uf, x[i]);
        wd.see(ud, x[i]);
        if ((uf > forward_tol(x[i]) || ud > grad_tol(x[i])) && bad++ < 5)
            ADD_FAILURE() << target << " " << name << "(" << x[i] << ") = " << y[i] << " (" << uf << " ulp of "
                          << ref(x[i]) << "), derivative " << d[i] << " (" << ud << " ulp of " << grad_ref(x[i])
                          << ")";
    }
    EXPECT_EQ(bad, 0) << target << " " << name << ": points out of tolerance";
    std::printf("[simd] %-8s %-9s worst forward %.2f ulp at %g, derivative %.2f ulp at %g\n", target.c_str(), name,
                wf.ulps, wf.at, wd.ulps, wd.at);
}

std::function<double(float)> flat(double u) {
    return [u](float) { return u; };
}

TEST(ActivationSimd, GeluErfWithinFewUlpOnEveryTarget) {
    for (const Target& t : targets()) {
        if (!t.supported) continue;
        // Φ(x) and x φ(x) cancel near x ≈ −0.75 (gelu′ = 0 there): the derivative is held to
        // a few ulp of its larger term, 4 + 4 (|Φ| + |x φ|) / |gelu′| ulp of itself.
        check_accuracy<vec::GeluErf>(t.name, "gelu", gelu_ref, gelu_grad_ref, flat(6), [](float x) {
            const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
            const double pdf_term = std::fabs(x * std::exp(-0.5 * double(x) * x) / std::sqrt(2 * M_PI));
            return 4 + 4 * (cdf + pdf_term) / std::max(std::fabs(gelu_grad_ref(x)), 1e-300);
        });
    }
}

TEST(ActivationSimd, GeluTanhWithinFewUlpOnEveryTarget) {
    // The derivative crosses 0 near x ≈ −0.75: there the tolerance follows the size of its terms.
    const auto grad_tol = [](float x) {
        const double u = tanh_u(x), s = sigma(2 * u);
        const double terms = s + std::fabs(2 * x * s * sigma(-2 * u) * kSqrt2OverPi * (1 + 3 * kKappa * x * x));
        return 4 + 4 * terms / std::max(std::fabs(gelu_tanh_grad_ref(x)), 1e-300);
    };
    for (const Target& t : targets())
        if (t.supported)
            check_accuracy<vec::GeluTanh>(t.name, "gelu_tanh", gelu_tanh_ref, gelu_tanh_grad_ref, flat(4), grad_tol);
}

TEST(ActivationSimd, SiluAndSigmoidWithinFewUlpOnEveryTarget) {
    // The derivative of SiLU crosses 0 near x ≈ −1.28: there the tolerance follows the size of
    // its terms.
    const auto silu_grad_tol = [](float x) {
        const double s = sigma(x), g = silu_grad_ref(x);
        return 4 + 4 * (s + std::fabs(s * x * sigma(-x))) / std::max(std::fabs(g), 1e-300);
    };
    for (const Target& t : targets()) {
        if (!t.supported) continue;
        check_accuracy<vec::Silu>(t.name, "silu", silu_ref, silu_grad_ref, flat(4), silu_grad_tol);
        check_accuracy<vec::Sigmoid>(t.name, "sigmoid", sigmoid_ref, sigmoid_grad_ref, flat(4), flat(6));
    }
}

// The library's ops give exactly what the target the loader picks for this CPU gives (the
// clones are tried in the order of targets(): the first supported one).
template <class F>
void check_library_matches(const char* name, const std::function<Tensor(const Tensor&)>& op) {
    const std::vector<float> xs = sweep();
    const int64_t n = int64_t(xs.size());
    Tensor x = Tensor::from_vector({n}, xs);
    x.requires_grad_();
    Tensor y = op(x);
    y.backward(Tensor::ones({n}));
    const std::vector<float> lib_y = y.to_vector(), lib_d = x.grad().to_vector();
    std::string picked;
    for (const Target& t : targets())
        if (t.supported && picked.empty()) picked = t.name;
    std::vector<float> ones(n, 1.f), vy(n), vd(n);
    forward_for<F>(picked)(xs.data(), vy.data(), n);
    backward_for<F>(picked)(xs.data(), ones.data(), vd.data(), n);
    int64_t differ = 0;
    for (int64_t i = 0; i < n; ++i) {
        const bool same_y = std::memcmp(&vy[i], &lib_y[i], 4) == 0, same_d = std::memcmp(&vd[i], &lib_d[i], 4) == 0;
        if ((!same_y || !same_d) && differ++ < 3)
            ADD_FAILURE() << name << " on " << picked << " at x = " << xs[i] << ": " << vy[i] << " vs library "
                          << lib_y[i] << ", derivative " << vd[i] << " vs " << lib_d[i];
    }
    EXPECT_EQ(differ, 0) << name << " on " << picked;
}

TEST(ActivationSimd, LibraryOpsMatchEveryTargetBitForBit) {
    check_library_matches<vec::GeluErf>("gelu", [](const Tensor& x) { return gelu(x); });
    check_library_matches<vec::GeluTanh>("gelu_tanh",
                                         [](const Tensor& x) { return gelu(x, GeluApproximation::tanh); });
    check_library_matches<vec::Silu>("silu", [](const Tensor& x) { return silu(x); });
    check_library_matches<vec::Sigmoid>("sigmoid", [](const Tensor& x) { return sigmoid(x); });
}

// ---- edge values, as torch 1.13 gives them ---------------------------------------------------------
// Printed by F.gelu / F.silu / torch.sigmoid and their backward with a gradient of ones on
//   x = [−∞, +∞, NaN, −20, −3e38, 3e38, 0, −0]
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

void expect_values(const char* what, const std::vector<float>& got, const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        if (std::isnan(want[i]))
            EXPECT_TRUE(std::isnan(got[i])) << what << "[" << i << "] = " << got[i] << ", torch gives NaN";
        else if (std::isfinite(want[i]) && want[i] != 0.f)
            EXPECT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i])) << what << "[" << i << "]";
        else
            EXPECT_EQ(got[i], want[i]) << what << "[" << i << "]";  // ±0 compare equal: the sign is not checked
    }
}

void check_edges(const char* name, const std::function<Tensor(const Tensor&)>& op, const std::vector<float>& y,
                 const std::vector<float>& dy) {
    const std::vector<float> xs = {-kInf, kInf, kNaN, -20.f, -3e38f, 3e38f, 0.f, -0.f};
    Tensor x = Tensor::from_vector({int64_t(xs.size())}, xs);
    x.requires_grad_();
    Tensor out = op(x);
    out.backward(Tensor::ones({int64_t(xs.size())}));
    expect_values(name, out.to_vector(), y);
    expect_values((std::string(name) + "'").c_str(), x.grad().to_vector(), dy);
}

TEST(ActivationSimd, EdgeValuesFollowTorch) {
    check_edges("gelu", [](const Tensor& x) { return gelu(x); }, {kNaN, kInf, kNaN, 0.f, 0.f, 3e38f, 0.f, 0.f},
                {kNaN, kNaN, kNaN, 0.f, 0.f, 1.f, 0.5f, 0.5f});
    check_edges("gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::tanh); },
                {kNaN, kInf, kNaN, 0.f, 0.f, 3e38f, 0.f, 0.f}, {kNaN, kNaN, kNaN, 0.f, kNaN, kNaN, 0.5f, 0.5f});
    check_edges("silu", [](const Tensor& x) { return silu(x); },
                {kNaN, kInf, kNaN, -4.12230747e-08f, 0.f, 3e38f, 0.f, 0.f},
                {kNaN, kNaN, kNaN, -3.91619217e-08f, 0.f, 1.f, 0.5f, 0.5f});
    check_edges("sigmoid", [](const Tensor& x) { return sigmoid(x); },
                {0.f, 1.f, kNaN, 2.06115369e-09f, 0.f, 1.f, 0.5f, 0.5f},
                {0.f, 0.f, kNaN, 2.06115369e-09f, 0.f, 0.f, 0.25f, 0.25f});
}

}  // namespace
