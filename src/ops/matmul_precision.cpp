// ops/matmul_precision.cpp — the per-thread precision linear() reads (attend/matmul_precision.hpp).
#include "attend/matmul_precision.hpp"

#include "attend/error.hpp"
#include "ops/gemv_dot.hpp"

namespace attend {

namespace {
thread_local MatmulPrecision current = MatmulPrecision::f32;
}

MatmulPrecision matmul_precision() { return current; }

bool cpu_has_bf16_matmul() { return cpu_has_bf16_dot(); }

const char* name_of(MatmulPrecision p) { return p == MatmulPrecision::bf16 ? "bf16" : "f32"; }

MatmulPrecision matmul_precision_named(const std::string& name, const std::string& what) {
    if (name == "f32") return MatmulPrecision::f32;
    if (name == "bf16") return MatmulPrecision::bf16;
    ATTEND_CHECK(false, what, ": unknown precision \"", name, "\" (known: f32, bf16)");
}

MatmulPrecisionScope::MatmulPrecisionScope(MatmulPrecision p) : previous_(current) {
    ATTEND_CHECK(p != MatmulPrecision::bf16 || cpu_has_bf16_matmul(),
                 "bf16 precision needs a CPU with AVX512-BF16 (vdpbf16ps), which this one lacks; use f32");
    current = p;
}

MatmulPrecisionScope::~MatmulPrecisionScope() { current = previous_; }

}  // namespace attend
