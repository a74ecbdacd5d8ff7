// cpu_features.hpp — which of attend's hand-written kernel sets this CPU runs, asked once, and
// the one switch that caps them (as ONEDNN_MAX_CPU_ISA caps oneDNN's).
//
// Every kernel choice in the library asks cpu_features(), never the CPU itself, so one cap
// moves them all:
//   avx512   (default) the AVX-512 kernels where the CPU has AVX-512 F/BW/DQ/VL, with VNNI
//            (int8 dot products) and BF16 (bf16 dot products and GEMM) where it has those;
//   avx2     the AVX2 + FMA kernels, as on a CPU without AVX-512;
//   generic  neither: the kernels written once on 16-float vectors, which GCC compiles as
//            target clones the loader still picks per CPU (ops/simd.hpp), and bf16 / int8
//            weights widened to fp32 rather than multiplied in their own precision.
// The cap comes from the environment variable ATTEND_MAX_ISA, read at the first question, or
// from set_max_isa. It never raises a level the CPU lacks. Its uses: comparing the kernel sets
// on one machine (`ATTEND_MAX_ISA=avx2 attend bench`), and tests that run every set the CPU
// can run (tests/test_gemv.cpp), so a CI machine with AVX-512 also checks the AVX2 kernels.
#pragma once
#include <atomic>
#include <string>
#include <vector>

namespace attend {

enum class Isa { generic, avx2, avx512 };  // ordered: a cap admits its level and those below

const char* name_of(Isa isa);               // "generic", "avx2", "avx512"
Isa parse_isa(const std::string& name);     // Error naming ATTEND_MAX_ISA's accepted values

// What the kernels may use: the CPU's features under the cap.
struct CpuFeatures {
    bool avx2_fma = false;     // AVX2 and FMA
    bool avx512 = false;       // AVX-512 F, BW, DQ and VL
    bool avx512_vnni = false;  // AVX-512 VNNI (with the above)
    bool avx512_bf16 = false;  // AVX-512 BF16 (with the above)
    bool operator==(const CpuFeatures&) const = default;
};
CpuFeatures cpu_features();  // inline, below

// The best level the CPU itself runs, and every level up to it (best first).
Isa cpu_best_isa();
std::vector<Isa> cpu_isas();
// The set the kernels run now: the CPU's best under the cap.
Isa kernel_isa();

// The cap in force, and setting it: later calls choose kernels under the new cap (not safe
// while another thread runs kernels). Returns the cap it replaces.
Isa max_isa();
Isa set_max_isa(Isa cap);

// Throws Error when ATTEND_MAX_ISA is set to something parse_isa refuses. cpu_features() itself
// never throws (a kernel may ask it inside a parallel region): it ignores such a value with one
// line on stderr. The command line calls this first, so a bad value fails there in one line.
void check_max_isa_setting();

// cpu_features() is asked once per row by the row kernels (ops/simd.hpp), so it is one relaxed
// load: the capped features as bits, kept by core/cpu_features.cpp (set at the first question,
// and by set_max_isa). A call into the library each time cost ~4 ns, ~20% of max_of over 128
// floats (an attention tile's row); this load costs ~1 ns (a loop of calls, AVX2 EPYC).
namespace detail {
constexpr unsigned kFeaturesUnknown = ~0u;  // before the first question
extern std::atomic<unsigned> capped_feature_bits;  // bit i: CpuFeatures' field i
unsigned first_feature_bits();                     // asks the CPU and ATTEND_MAX_ISA, stores
}  // namespace detail

inline CpuFeatures cpu_features() {
    unsigned bits = detail::capped_feature_bits.load(std::memory_order_relaxed);
    if (bits == detail::kFeaturesUnknown) bits = detail::first_feature_bits();
    return {(bits & 1u) != 0, (bits & 2u) != 0, (bits & 4u) != 0, (bits & 8u) != 0};
}

}  // namespace attend
