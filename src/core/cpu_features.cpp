// core/cpu_features.cpp — the CPU asked once; the features under the cap kept as bits for
// cpu_features() (attend/cpu_features.hpp), renewed by set_max_isa.
#include "attend/cpu_features.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "attend/error.hpp"

namespace attend {

namespace {

CpuFeatures host_features() {
    CpuFeatures f;
    f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    f.avx512_vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
    f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
    return f;
}

const CpuFeatures& host_cpu() {
    static const CpuFeatures features = host_features();
    return features;
}

// ATTEND_MAX_ISA's value, avx512 where it is unset or empty; Error where parse_isa refuses it.
Isa isa_from_environment() {
    const char* value = std::getenv("ATTEND_MAX_ISA");
    return value == nullptr || *value == '\0' ? Isa::avx512 : parse_isa(value);
}

// The cap, first from the environment; there a bad value is reported once and ignored.
std::atomic<int>& isa_cap() {
    static std::atomic<int> level{[] {
        try {
            return int(isa_from_environment());
        } catch (const Error& e) {
            std::fprintf(stderr, "attend: warning: %s; using every kernel the CPU runs\n", e.what());
            return int(Isa::avx512);
        }
    }()};
    return level;
}

// The host's features under `level`, as detail::capped_feature_bits holds them.
unsigned feature_bits_under(int level) {
    CpuFeatures f = host_cpu();
    if (level < int(Isa::avx512)) f.avx512 = f.avx512_vnni = f.avx512_bf16 = false;
    if (level < int(Isa::avx2)) f.avx2_fma = false;
    return unsigned(f.avx2_fma) | unsigned(f.avx512) << 1 | unsigned(f.avx512_vnni) << 2 | unsigned(f.avx512_bf16) << 3;
}

}  // namespace

const char* name_of(Isa isa) {
    switch (isa) {
        case Isa::generic: return "generic";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
    }
    return "?";
}

Isa parse_isa(const std::string& name) {
    for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512})
        if (name == name_of(isa)) return isa;
    throw Error("ATTEND_MAX_ISA=" + name + " is not one of avx512, avx2, generic");
}

namespace detail {

std::atomic<unsigned> capped_feature_bits{kFeaturesUnknown};

unsigned first_feature_bits() {
    const unsigned bits = feature_bits_under(isa_cap().load(std::memory_order_relaxed));
    capped_feature_bits.store(bits, std::memory_order_relaxed);
    return bits;
}

}  // namespace detail

Isa cpu_best_isa() { return host_cpu().avx512 ? Isa::avx512 : host_cpu().avx2_fma ? Isa::avx2 : Isa::generic; }

std::vector<Isa> cpu_isas() {
    std::vector<Isa> isas;
    for (int level = int(cpu_best_isa()); level >= int(Isa::generic); --level) isas.push_back(Isa(level));
    return isas;
}

Isa kernel_isa() { return std::min(max_isa(), cpu_best_isa()); }

Isa max_isa() { return Isa(isa_cap().load(std::memory_order_relaxed)); }

Isa set_max_isa(Isa level) {
    const Isa replaced = Isa(isa_cap().exchange(int(level), std::memory_order_relaxed));
    detail::capped_feature_bits.store(feature_bits_under(int(level)), std::memory_order_relaxed);
    return replaced;
}

void check_max_isa_setting() { isa_from_environment(); }

}  // namespace attend
