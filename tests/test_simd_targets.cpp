// Every SIMD target of the vector kernels against PyTorch: softmax, log-softmax, LayerNorm,
// RMSNorm, GELU, SiLU and sigmoid, forward and backward.
//
// The library compiles its row kernels as target clones (ATTEND_SIMD_CLONES, ops/simd.hpp)
// and runs only the clone this CPU picks, so the parity tests see one of them. Here the kernel
// sources themselves are compiled again, once per target: ATTEND_SIMD_CLONES is defined first
// as that single target, and each file is included into a namespace of its own (its headers
// are already included, so only its own code lands there; one namespace per file, as each was
// one translation unit). Every target the CPU supports then runs the parity cases of
// tests/reference/ops.py. The baseline (no attribute) is what the "default" clone runs.
// The target the loader picks must also give the library's results bit for bit, which shows
// that these copies are the clones the library runs. Where a file also has 8-float AVX2 + FMA
// kernels (activation, norm), they run as a target of their own on every CPU with AVX2 + FMA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/profile.hpp"
#include "core/wrap_dim.hpp"
#include "ops/activation_simd.hpp"
#include "ops/pointwise.hpp"
#include "ops/row_kernels.hpp"
#include "ops/simd.hpp"
#include "support/reference.hpp"

// The copies ask this flag, not the CPU, whether to run their 8-float AVX2 + FMA kernels
// instead of the clones (cpu_prefers_avx2_kernels(), ops/simd.hpp), so both widths run wherever
// the CPU has them: the 8-float ones on AVX-512 machines too, the clones on AVX2-only ones.
// It starts as the library's own choice; TargetOps::eight_floats sets it per target.
namespace attend_test {
bool prefer_8_floats = ::attend::cpu_prefers_avx2_kernels();
}  // namespace attend_test
#define cpu_prefers_avx2_kernels() ::attend_test::prefer_8_floats

#undef ATTEND_SIMD_CLONES
#define ATTEND_SIMD_CLONES __attribute__((target("avx512f")))
namespace on_avx512f_activation {
using namespace ::attend;
#include "ops/activation.cpp"
}  // namespace on_avx512f_activation
namespace on_avx512f_norm {
using namespace ::attend;
#include "ops/norm.cpp"
}  // namespace on_avx512f_norm
namespace on_avx512f_softmax {
using namespace ::attend;
#include "ops/row_kernels.cpp"  // softmax's row passes, compiled for the same target
#include "ops/softmax.cpp"
}  // namespace on_avx512f_softmax

#undef ATTEND_SIMD_CLONES
#define ATTEND_SIMD_CLONES __attribute__((target("avx2")))
namespace on_avx2_activation {
using namespace ::attend;
#include "ops/activation.cpp"
}  // namespace on_avx2_activation
namespace on_avx2_norm {
using namespace ::attend;
#include "ops/norm.cpp"
}  // namespace on_avx2_norm
namespace on_avx2_softmax {
using namespace ::attend;
#include "ops/row_kernels.cpp"  // softmax's row passes, compiled for the same target
#include "ops/softmax.cpp"
}  // namespace on_avx2_softmax

#undef ATTEND_SIMD_CLONES
#define ATTEND_SIMD_CLONES
namespace on_default_activation {
using namespace ::attend;
#include "ops/activation.cpp"
}  // namespace on_default_activation
namespace on_default_norm {
using namespace ::attend;
#include "ops/norm.cpp"
}  // namespace on_default_norm
namespace on_default_softmax {
using namespace ::attend;
#include "ops/row_kernels.cpp"  // softmax's row passes, compiled for the same target
#include "ops/softmax.cpp"
}  // namespace on_default_softmax

#undef cpu_prefers_avx2_kernels

using namespace attend;
using attend::testing::close_to;

namespace {

using V = const std::vector<Tensor>&;
using Fn = std::function<Tensor(V)>;

// The ops of one target, by the name of their parity cases' prefix.
struct TargetOps {
    std::string name;
    bool supported;
    bool eight_floats;  // run the 8-float AVX2 + FMA kernels where a file has them
    std::map<std::string, Fn> ops;
};

// Sets attend_test::prefer_8_floats for a target's whole case: forward and backward.
class KernelWidth {
public:
    explicit KernelWidth(const TargetOps& t) : before_(attend_test::prefer_8_floats) {
        attend_test::prefer_8_floats = t.eight_floats;
    }
    ~KernelWidth() { attend_test::prefer_8_floats = before_; }

private:
    bool before_;
};

#define ATTEND_TARGET_OPS(T)                                                                                     \
    std::map<std::string, Fn> {                                                                                \
        {"softmax", [](V in) { return on_##T##_softmax::attend::softmax(in[0], -1); }},                        \
            {"log_softmax", [](V in) { return on_##T##_softmax::attend::log_softmax(in[0], -1); }},            \
            {"layer_norm", [](V in) { return on_##T##_norm::attend::layer_norm(in[0], in[1], in[2], 1e-5f); }}, \
            {"layer_norm_nobias",                                                                              \
             [](V in) { return on_##T##_norm::attend::layer_norm(in[0], in[1], Tensor(), 1e-5f); }},           \
            {"layer_norm_plain",                                                                               \
             [](V in) { return on_##T##_norm::attend::layer_norm(in[0], Tensor(), Tensor(), 1e-5f); }},        \
            {"rms_norm", [](V in) { return on_##T##_norm::attend::rms_norm(in[0], in[1], 1e-6f); }},            \
            {"gelu", [](V in) { return on_##T##_activation::attend::gelu(in[0], GeluApproximation::none); }},   \
            {"gelu_tanh",                                                                                      \
             [](V in) { return on_##T##_activation::attend::gelu(in[0], GeluApproximation::tanh); }},          \
            {"silu", [](V in) { return on_##T##_activation::attend::silu(in[0]); }},                           \
            {"sigmoid", [](V in) { return on_##T##_activation::attend::sigmoid(in[0]); }},                     \
    }

// In the order the library picks: the first supported one is what it runs on this CPU.
std::vector<TargetOps> targets() {
    __builtin_cpu_init();
    const bool avx512f = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2"),
               fma = __builtin_cpu_supports("fma");
    return {{"avx512f", avx512f, false, ATTEND_TARGET_OPS(avx512f)},
            {"avx2 + fma, 8 floats", avx2 && fma, true, ATTEND_TARGET_OPS(avx2)},
            {"avx2", avx2, false, ATTEND_TARGET_OPS(avx2)},
            {"default", true, false, ATTEND_TARGET_OPS(default)}};
}

// The library's own ops, by the same names.
std::map<std::string, Fn> library_ops() {
    return {{"softmax", [](V in) { return softmax(in[0], -1); }},
            {"log_softmax", [](V in) { return log_softmax(in[0], -1); }},
            {"layer_norm", [](V in) { return layer_norm(in[0], in[1], in[2], 1e-5f); }},
            {"layer_norm_nobias", [](V in) { return layer_norm(in[0], in[1], Tensor(), 1e-5f); }},
            {"layer_norm_plain", [](V in) { return layer_norm(in[0], Tensor(), Tensor(), 1e-5f); }},
            {"rms_norm", [](V in) { return rms_norm(in[0], in[1], 1e-6f); }},
            {"gelu", [](V in) { return gelu(in[0]); }},
            {"gelu_tanh", [](V in) { return gelu(in[0], GeluApproximation::tanh); }},
            {"silu", [](V in) { return silu(in[0]); }},
            {"sigmoid", [](V in) { return sigmoid(in[0]); }}};
}

// Parity case → the op it runs (cases of ops.py over the last dimension).
const std::vector<std::pair<std::string, std::string>> kCases = {
    {"softmax", "softmax"},
    {"softmax_large", "softmax"},
    {"softmax_masked", "softmax"},
    {"softmax_big", "softmax"},
    {"softmax_odd", "softmax"},
    {"log_softmax", "log_softmax"},
    {"log_softmax_large", "log_softmax"},
    {"log_softmax_big", "log_softmax"},
    {"log_softmax_odd", "log_softmax"},
    {"layer_norm", "layer_norm"},
    {"layer_norm_offset", "layer_norm"},
    {"layer_norm_big", "layer_norm"},
    {"layer_norm_odd", "layer_norm"},
    {"layer_norm_nobias", "layer_norm_nobias"},
    {"layer_norm_plain", "layer_norm_plain"},
    {"rms_norm", "rms_norm"},
    {"rms_norm_big", "rms_norm"},
    {"rms_norm_odd", "rms_norm"},
    {"gelu", "gelu"},
    {"gelu_sweep", "gelu"},
    {"gelu_big", "gelu"},
    {"gelu_tanh", "gelu_tanh"},
    {"gelu_tanh_sweep", "gelu_tanh"},
    {"gelu_tanh_big", "gelu_tanh"},
    {"silu", "silu"},
    {"silu_sweep", "silu"},
    {"silu_big", "silu"},
    {"sigmoid", "sigmoid"},
    {"sigmoid_sweep", "sigmoid"},
};

const std::map<std::string, Tensor>& reference() {
    static const std::map<std::string, Tensor> ref = attend::testing::load_reference("ops");
    return ref;
}

struct Result {
    Tensor out;
    std::vector<Tensor> grads;  // of the inputs that have a reference gradient
};

// Runs one case: the output, and the gradients of loss = Σ out · dout.
Result run_case(const std::string& name, const Fn& f) {
    const auto& ref = reference();
    std::vector<Tensor> inputs;
    for (int k = 0; ref.count(name + ".in" + std::to_string(k)); ++k) {
        Tensor t = ref.at(name + ".in" + std::to_string(k)).clone();
        if (ref.count(name + ".grad" + std::to_string(k))) t.requires_grad_();
        inputs.push_back(t);
    }
    Result r{f(inputs), {}};
    sum(mul(r.out, ref.at(name + ".dout0"))).backward();
    for (size_t k = 0; k < inputs.size(); ++k)
        if (ref.count(name + ".grad" + std::to_string(k))) r.grads.push_back(inputs[k].grad());
    return r;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    const std::vector<float> x = a.to_vector(), y = b.to_vector();
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

TEST(SimdTargets, EveryTargetMatchesPyTorch) {
    const auto& ref = reference();
    for (const TargetOps& t : targets()) {
        if (!t.supported) continue;
        const KernelWidth width(t);
        for (const auto& [name, op] : kCases) {
            ASSERT_TRUE(ref.count(name + ".out0")) << name << " is not in ops.safetensors";
            const Result r = run_case(name, t.ops.at(op));
            EXPECT_TRUE(close_to(r.out, ref.at(name + ".out0"), 1e-5, t.name + " " + name));
            for (size_t k = 0, g = 0; ref.count(name + ".in" + std::to_string(k)); ++k) {
                if (!ref.count(name + ".grad" + std::to_string(k))) continue;
                EXPECT_TRUE(close_to(r.grads[g++], ref.at(name + ".grad" + std::to_string(k)), 1e-4,
                                     t.name + " " + name + ".grad" + std::to_string(k)));
            }
        }
    }
}

TEST(SimdTargets, PickedTargetIsTheLibrarysCloneBitForBit) {
    std::string picked;
    std::map<std::string, Fn> ops;
    bool eight_floats = false;
    for (const TargetOps& t : targets()) {
        if (t.supported && picked.empty()) {
            picked = t.name;
            ops = t.ops;
            eight_floats = t.eight_floats;
        }
    }
    EXPECT_EQ(eight_floats, cpu_prefers_avx2_kernels()) << "the first target is not the library's pick";
    attend_test::prefer_8_floats = eight_floats;
    const std::map<std::string, Fn> lib = library_ops();
    for (const auto& [name, op] : kCases) {
        const Result mine = run_case(name, ops.at(op)), theirs = run_case(name, lib.at(op));
        EXPECT_TRUE(same_bits(mine.out, theirs.out)) << picked << " " << name;
        for (size_t g = 0; g < mine.grads.size(); ++g)
            EXPECT_TRUE(same_bits(mine.grads[g], theirs.grads[g])) << picked << " " << name << ".grad" << g;
    }
}

// The defined edge case torch leaves as NaN, on every target: a fully masked row.
TEST(SimdTargets, FullyMaskedRowsOnEveryTarget) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    for (const TargetOps& t : targets()) {
        if (!t.supported) continue;
        const KernelWidth width(t);
        std::vector<float> v(2 * 37, 0.5f);
        std::fill(v.begin(), v.begin() + 37, -kInf);  // row 0 masked; 37 lanes: a tail too
        for (const char* op : {"softmax", "log_softmax"}) {
            Tensor x = Tensor::from_vector({2, 37}, v);
            x.requires_grad_();
            Tensor y = t.ops.at(op)({x});
            sum(mul(y, Tensor::full({2, 37}, 1.5f).detach())).backward();
            const std::vector<float> out = y.to_vector(), g = x.grad().to_vector();
            const float masked = std::string(op) == "softmax" ? 0.f : -kInf;
            for (int c = 0; c < 37; ++c) {
                EXPECT_EQ(out[c], masked) << t.name << " " << op;
                EXPECT_EQ(g[c], 0.f) << t.name << " " << op;
                EXPECT_TRUE(std::isfinite(out[37 + c])) << t.name << " " << op;
            }
        }
    }
}

}  // namespace
