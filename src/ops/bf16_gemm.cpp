// ops/bf16_gemm.cpp — y (M, N) = x (M, K) · Wᵀ + b with W in bf16, for many rows (a prompt).
//
// Where the CPU has AVX512-BF16, a bf16 dot-product instruction does twice the multiply-adds
// of an fp32 FMA per cycle, so a prompt's products run up to twice as fast: oneDNN's matmul
// primitive (bf16 × bf16 → fp32 accumulate and output) takes x rounded to bf16 and W as it
// is stored, (N, K) row-major read as the (K, N) weights with strides (1, K). Rounding x costs
// ~3 significant digits per input (bf16 keeps 8 bits), the same precision the weights already
// have. A primitive is built (JIT-compiled) once per shape and kept.
// Without AVX512-BF16 (or if oneDNN refuses the shape) this returns false and the caller
// widens W instead.
#include <omp.h>

#include <map>
#include <mutex>
#include <unordered_map>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>

#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "ops/gemv.hpp"

namespace attend {

namespace {

bool cpu_has_bf16_dot() {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512bf16") != 0;
    }();
    return has;
}

struct Bf16Matmul {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    std::map<std::tuple<int64_t, int64_t, int64_t, bool>, dnnl::matmul> primitives;  // (M, N, K, bias)
    std::mutex mutex;

    // The primitive for this shape, or nullopt-like empty when oneDNN has none.
    bool get(int64_t M, int64_t N, int64_t K, bool bias, dnnl::matmul& out) {
        std::lock_guard<std::mutex> lock(mutex);
        const auto key = std::make_tuple(M, N, K, bias);
        if (auto it = primitives.find(key); it != primitives.end()) {
            out = it->second;
            return true;
        }
        using dt = dnnl::memory::data_type;
        const dnnl::memory::desc src({M, K}, dt::bf16, dnnl::memory::dims{K, 1});
        const dnnl::memory::desc weights({K, N}, dt::bf16, dnnl::memory::dims{1, K});  // W (N, K) read as Wᵀ
        const dnnl::memory::desc dst({M, N}, dt::f32, dnnl::memory::dims{N, 1});
        try {
            const dnnl::matmul::desc desc = bias ? dnnl::matmul::desc(src, weights,
                                                                       dnnl::memory::desc({1, N}, dt::f32,
                                                                                          dnnl::memory::dims{N, 1}),
                                                                       dst)
                                                 : dnnl::matmul::desc(src, weights, dst);
            out = dnnl::matmul(dnnl::matmul::primitive_desc(desc, engine));
        } catch (const dnnl::error&) {
            return false;
        }
        primitives.emplace(key, out);
        return true;
    }
};

Bf16Matmul& matmuls() {
    static Bf16Matmul m;
    return m;
}

}  // namespace

bool bf16_gemm(int64_t M, const float* x, const LowPrecisionMatrix& W, const float* bias, float* y) {
    if (!cpu_has_bf16_dot() || W.type() != WeightType::bf16 || omp_get_level() > 0) return false;
    const int64_t N = W.rows(), K = W.cols();
    dnnl::matmul primitive;
    if (!matmuls().get(M, N, K, bias != nullptr, primitive)) return false;
    std::vector<uint16_t> x16(static_cast<size_t>(M * K));
#pragma omp parallel for schedule(static) if (worth_threading(M * K))
    for (int64_t i = 0; i < M * K; ++i) x16[size_t(i)] = to_bf16(x[i]);

    using dt = dnnl::memory::data_type;
    dnnl::engine& engine = matmuls().engine;
    dnnl::stream stream(engine);
    const dnnl::memory src({{M, K}, dt::bf16, dnnl::memory::dims{K, 1}}, engine, x16.data());
    const dnnl::memory weights({{K, N}, dt::bf16, dnnl::memory::dims{1, K}}, engine,
                               const_cast<uint16_t*>(W.bf16()));
    const dnnl::memory dst({{M, N}, dt::f32, dnnl::memory::dims{N, 1}}, engine, y);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
    if (bias)
        args.emplace(DNNL_ARG_BIAS,
                     dnnl::memory({{1, N}, dt::f32, dnnl::memory::dims{N, 1}}, engine, const_cast<float*>(bias)));
    primitive.execute(stream, args);
    stream.wait();
    return true;
}

}  // namespace attend
