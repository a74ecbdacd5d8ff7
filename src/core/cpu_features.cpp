// core/cpu_features.cpp — the CPU asked once, the cap applied on every question.
#include "attend/cpu_features.hpp"

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

// The cap from ATTEND_MAX_ISA; an unreadable value is reported once and ignored.
Isa cap_from_environment() {
    const char* value = std::getenv("ATTEND_MAX_ISA");
    if (value == nullptr || *value == '\0') return Isa::avx512;
    try {
        return parse_isa(value);
    } catch (const Error& e) {
        std::fprintf(stderr, "attend: warning: %s; using every kernel the CPU runs\n", e.what());
        return Isa::avx512;
    }
}

std::atomic<int>& isa_cap() {
    static std::atomic<int> level{int(cap_from_environment())};
    return level;
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

CpuFeatures cpu_features() {
    const int level = isa_cap().load(std::memory_order_relaxed);
    CpuFeatures f = host_cpu();
    if (level < int(Isa::avx512)) f.avx512 = f.avx512_vnni = f.avx512_bf16 = false;
    if (level < int(Isa::avx2)) f.avx2_fma = false;
    return f;
}

Isa cpu_best_isa() { return host_cpu().avx512 ? Isa::avx512 : host_cpu().avx2_fma ? Isa::avx2 : Isa::generic; }

std::vector<Isa> cpu_isas() {
    std::vector<Isa> isas;
    for (int level = int(cpu_best_isa()); level >= int(Isa::generic); --level) isas.push_back(Isa(level));
    return isas;
}

Isa max_isa() { return Isa(isa_cap().load(std::memory_order_relaxed)); }

Isa set_max_isa(Isa level) { return Isa(isa_cap().exchange(int(level), std::memory_order_relaxed)); }

void check_max_isa_setting() {
    const char* value = std::getenv("ATTEND_MAX_ISA");
    if (value != nullptr && *value != '\0') parse_isa(value);
}

}  // namespace attend
