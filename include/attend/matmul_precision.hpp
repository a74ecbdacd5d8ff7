// matmul_precision.hpp — which arithmetic linear() uses for fp32 weights: the fp32 GEMM, or
// bf16 mixed precision (`attend train --precision bf16`).
//
// Under bf16, linear()'s products forward and backward (y = x · Wᵀ, dx = dy · W, dW = dyᵀ · x)
// round their two fp32 operands to bf16 as the GEMM lays them out and sum in fp32 on the
// CPU's bf16 dot products (AVX512-BF16; ops/bf16_gemm.cpp). Everything else stays fp32: the
// master weights, the optimizer, the activations and gradients stored between ops, and the
// ops other than linear (attention, norms, softmax). The backward uses the precision its
// forward ran under. Few-row products (decoding, ops/gemv.hpp) stay fp32.
//
// The choice is per thread and scoped, like NoGradGuard:
//
//   { MatmulPrecisionScope bf16(MatmulPrecision::bf16); forward; backward; }
//
// Asking for bf16 on a CPU without AVX512-BF16 is an Error (one line) rather than a slow
// widening: emulated bf16 would be slower than fp32 and train no better.
#pragma once
#include <string>

namespace attend {

enum class MatmulPrecision { f32, bf16 };

// The calling thread's precision for linear(): f32 unless a scope says otherwise.
MatmulPrecision matmul_precision();

// Whether this CPU has the bf16 dot products that MatmulPrecision::bf16 needs.
bool cpu_has_bf16_matmul();

// "f32" / "bf16".
const char* name_of(MatmulPrecision p);
// The inverse; an Error naming `what` (a flag or a field) and the known names otherwise.
MatmulPrecision matmul_precision_named(const std::string& name, const std::string& what);

class MatmulPrecisionScope {
public:
    explicit MatmulPrecisionScope(MatmulPrecision p);  // Error: bf16 without AVX512-BF16
    ~MatmulPrecisionScope();
    MatmulPrecisionScope(const MatmulPrecisionScope&) = delete;
    MatmulPrecisionScope& operator=(const MatmulPrecisionScope&) = delete;

private:
    MatmulPrecision previous_;
};

}  // namespace attend
