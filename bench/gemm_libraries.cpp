// bench/gemm_libraries.cpp — SGEMM throughput of the three Debian BLAS candidates at transformer shapes.
//
// The issue asks to benchmark OpenBLAS, BLIS and oneDNN and pick one; this program is that measurement.
//   oneDNN    dnnl_sgemm, linked normally (it is the library attend already uses)
//   OpenBLAS  libopenblas0-pthread, dlopen'ed
//   BLIS      libblis4-openmp, dlopen'ed
// OpenBLAS and BLIS both export cblas_sgemm (and sgemm_); loading them with RTLD_LOCAL and
// fetching cblas_sgemm through dlsym keeps each one's symbols private, so the three coexist in
// one process and every call goes to the library we name.
//
// Every GEMM is row-major C (M, N) = A (M, K) · op(B), beta = 0, with op(B) = Bᵀ where the
// transformer stores B as (N, K): nn::Linear weights (out, in) and the keys of QKᵀ.
// Counter "GFLOP/s" = 2·M·N·K per call over wall time (UseRealTime: the libraries use threads
// the benchmark's CPU timer does not see).
//
// OPENBLAS_CORETYPE is left as the environment sets it: the kernel OpenBLAS picks under it is
// part of what is measured (the core name is printed in the context block).
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

namespace {

// ---- the shapes ---------------------------------------------------------------------------------

struct Shape {
    const char* label;  // what the GEMM is in a GPT-2-small-sized model (d = 768, T = 512/1024)
    int M, N, K;
    bool trans_b;  // B stored (N, K)
};

constexpr Shape kShapes[] = {
    {"proj", 512, 768, 768, true},          // Q/K/V/output projection, 512 tokens
    {"mlp_up", 512, 3072, 768, true},       // MLP 768 → 3072
    {"mlp_down", 512, 768, 3072, true},     // MLP 3072 → 768
    {"scores", 1024, 1024, 64, true},       // QKᵀ for one head, T = 1024, d_head = 64
    {"attn_v", 1024, 64, 1024, false},      // softmax(…)·V for one head
    {"proj_b64", 64, 768, 768, true},       // projection on a small batch of 64 tokens
    {"decode_proj", 1, 768, 768, true},     // decode step: GEMV through a projection
    {"decode_mlp_up", 1, 3072, 768, true},  // decode step: GEMV through the MLP's first layer
};

constexpr int kThreads[] = {1, 2};

// ---- the libraries ------------------------------------------------------------------------------

// Row-major SGEMM with BLAS semantics; one signature for all three so the benchmark body is shared.
using Sgemm = std::function<bool(bool trans_b, int M, int N, int K, const float* A, int lda, const float* B,
                                 int ldb, float* C, int ldc)>;

// cblas_sgemm's ABI. The CBLAS enums are plain ints; both Debian builds use 32-bit BLAS integers.
using CblasSgemmFn = void (*)(int order, int trans_a, int trans_b, int M, int N, int K, float alpha,
                              const float* A, int lda, const float* B, int ldb, float beta, float* C,
                              int ldc);
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111, kCblasTrans = 112;

struct Library {
    std::string name;
    std::string error;  // non-empty: the library could not be used, each of its benchmarks says why
    Sgemm sgemm;
    std::function<void(int)> set_threads;
};

// The first candidate that dlopens and has every symbol wins. An environment variable, when set,
// is tried first (for a machine where the library lives elsewhere).
struct Loaded {
    void* handle = nullptr;
    std::string path;
    std::string error;
};

Loaded open_first(const char* env_override, std::vector<std::string> candidates,
                  const std::vector<const char*>& required_symbols) {
    if (const char* p = std::getenv(env_override); p && *p) candidates.insert(candidates.begin(), p);
    Loaded out;
    std::string tried;
    for (const std::string& path : candidates) {
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char* e = dlerror();
            tried += "\n  " + path + ": " + (e ? e : "dlopen failed");
            continue;
        }
        std::string missing;
        for (const char* sym : required_symbols)
            if (!dlsym(h, sym)) missing += std::string(missing.empty() ? "" : ", ") + sym;
        if (!missing.empty()) {
            tried += "\n  " + path + ": missing symbol(s) " + missing;
            dlclose(h);
            continue;
        }
        out.handle = h;
        out.path = path;
        return out;
    }
    out.error = std::string("not found (set ") + env_override + " to its path); tried:" + tried;
    return out;
}

template <typename Fn>
Fn symbol(void* handle, const char* name) {
    return reinterpret_cast<Fn>(dlsym(handle, name));
}

Sgemm cblas_adapter(CblasSgemmFn fn) {
    return [fn](bool trans_b, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                int ldc) {
        fn(kCblasRowMajor, kCblasNoTrans, trans_b ? kCblasTrans : kCblasNoTrans, M, N, K, 1.f, A, lda, B, ldb,
           0.f, C, ldc);
        return true;
    };
}

Library load_onednn() {
    Library lib;
    lib.name = "oneDNN";
    lib.sgemm = [](bool trans_b, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                   int ldc) {
        return dnnl_sgemm('N', trans_b ? 'T' : 'N', M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc) == dnnl_success;
    };
    // Debian's oneDNN runs on OpenMP and sizes its parallel regions from omp_get_max_threads().
    lib.set_threads = [](int n) { omp_set_num_threads(n); };
    const dnnl_version_t* v = dnnl_version();
    char info[160];
    std::snprintf(info, sizeof info, "%d.%d.%d, effective ISA 0x%x (0x7 avx2, 0x27 avx512_core, 0x67 +vnni, 0xe7 +bf16)",
                  v->major, v->minor, v->patch, unsigned(dnnl_get_effective_cpu_isa()));
    benchmark::AddCustomContext("oneDNN", info);
    return lib;
}

Library load_openblas() {
    Library lib;
    lib.name = "OpenBLAS";
    Loaded l = open_first("ATTEND_BENCH_OPENBLAS",
                          {"/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
                           "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
                           "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "libopenblas.so.0"},
                          {"cblas_sgemm", "openblas_set_num_threads"});
    if (!l.handle) {
        lib.error = "OpenBLAS " + l.error;
        return lib;
    }
    lib.sgemm = cblas_adapter(symbol<CblasSgemmFn>(l.handle, "cblas_sgemm"));
    auto set = symbol<void (*)(int)>(l.handle, "openblas_set_num_threads");
    lib.set_threads = [set](int n) { set(n); };
    std::string info = l.path;
    if (auto corename = symbol<const char* (*)()>(l.handle, "openblas_get_corename"))
        info += ", core " + std::string(corename());
    if (auto config = symbol<const char* (*)()>(l.handle, "openblas_get_config"))
        info += ", config " + std::string(config());
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    info += std::string(", OPENBLAS_CORETYPE=") + (coretype ? coretype : "(unset)");
    benchmark::AddCustomContext("OpenBLAS", info);
    return lib;
}

Library load_blis() {
    Library lib;
    lib.name = "BLIS";
    // The OpenMP build first: it is the one that can use 2 threads (the serial build cannot).
    Loaded l = open_first("ATTEND_BENCH_BLIS",
                          {"/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4",
                           "/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4",
                           "/usr/lib/x86_64-linux-gnu/libblis.so.4", "libblis.so.4"},
                          {"cblas_sgemm", "bli_thread_set_num_threads"});
    if (!l.handle) {
        lib.error = "BLIS " + l.error;
        return lib;
    }
    lib.sgemm = cblas_adapter(symbol<CblasSgemmFn>(l.handle, "cblas_sgemm"));
    auto set = symbol<void (*)(int64_t)>(l.handle, "bli_thread_set_num_threads");  // dim_t = int64_t
    lib.set_threads = [set](int n) { set(n); };
    std::string info = l.path;
    if (auto version = symbol<const char* (*)()>(l.handle, "bli_info_get_version_str"))
        info += ", version " + std::string(version());
    auto arch_id = symbol<int (*)()>(l.handle, "bli_arch_query_id");
    auto arch_name = symbol<const char* (*)(int)>(l.handle, "bli_arch_string");
    if (arch_id && arch_name) info += ", kernels for " + std::string(arch_name(arch_id()));
    benchmark::AddCustomContext("BLIS", info);
    return lib;
}

// ---- the benchmark ------------------------------------------------------------------------------

struct AlignedFree {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer random_buffer(size_t n, uint32_t seed) {
    Buffer b(new (std::align_val_t{64}) float[n]);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (size_t i = 0; i < n; ++i) b[i] = dist(rng);
    return b;
}

// A wrong function pointer or a mixed-up ABI would still time something; check a sample of C
// against a double-precision dot product so a number in the table is a number for a real GEMM.
bool spot_check(const Shape& s, const float* A, const float* B, const float* C, std::string& why) {
    std::mt19937 rng(7);
    for (int t = 0; t < 64; ++t) {
        const int i = int(rng() % unsigned(s.M)), j = int(rng() % unsigned(s.N));
        double ref = 0, scale = 0;
        for (int k = 0; k < s.K; ++k) {
            const double b = s.trans_b ? B[size_t(j) * s.K + k] : B[size_t(k) * s.N + j];
            ref += double(A[size_t(i) * s.K + k]) * b;
            scale += std::abs(double(A[size_t(i) * s.K + k]) * b);
        }
        const double got = C[size_t(i) * s.N + j];
        if (!(std::abs(got - ref) <= 1e-4 * scale + 1e-6)) {
            why = "wrong result at C[" + std::to_string(i) + "," + std::to_string(j) + "]: got " +
                  std::to_string(got) + ", expected " + std::to_string(ref);
            return false;
        }
    }
    return true;
}

void run_gemm(benchmark::State& state, const Library& lib, const Shape& s, int threads) {
    if (!lib.error.empty()) {
        state.SkipWithError(lib.error.c_str());
        return;
    }
    lib.set_threads(threads);
    const int lda = s.K, ldb = s.trans_b ? s.K : s.N, ldc = s.N;
    Buffer A = random_buffer(size_t(s.M) * s.K, 1);
    Buffer B = random_buffer(size_t(s.K) * s.N, 2);
    Buffer C = random_buffer(size_t(s.M) * s.N, 3);  // garbage: beta = 0 must overwrite it

    // Warm-up: oneDNN JITs its kernels and the BLASes allocate packing buffers and wake their
    // thread pools on the first calls; none of that belongs in the steady-state rate.
    for (int w = 0; w < 3; ++w) {
        if (!lib.sgemm(s.trans_b, s.M, s.N, s.K, A.get(), lda, B.get(), ldb, C.get(), ldc)) {
            state.SkipWithError((lib.name + " sgemm returned an error").c_str());
            return;
        }
    }
    std::string why;
    if (!spot_check(s, A.get(), B.get(), C.get(), why)) {
        state.SkipWithError((lib.name + ": " + why).c_str());
        return;
    }

    for (auto _ : state) {
        lib.sgemm(s.trans_b, s.M, s.N, s.K, A.get(), lda, B.get(), ldb, C.get(), ldc);
        benchmark::DoNotOptimize(C.get());
        benchmark::ClobberMemory();
    }
    const double flops = 2.0 * s.M * s.N * s.K;
    state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    // Loaded once and kept for the whole run (never dlclose'd: the BLASes' thread pools live on).
    static const std::vector<Library> libraries = {load_onednn(), load_openblas(), load_blis()};

    // Library-major order: a library's idle worker threads (OpenBLAS spins for a while after a
    // call) then only overlap the first few calls of the next library, not every other entry.
    for (const Library& lib : libraries)
        for (int threads : kThreads)
            for (const Shape& s : kShapes) {
                const std::string name = lib.name + "/" + s.label + "/" + std::to_string(s.M) + "x" +
                                         std::to_string(s.N) + "x" + std::to_string(s.K) +
                                         (s.trans_b ? "/NT" : "/NN") + "/threads:" + std::to_string(threads);
                benchmark::RegisterBenchmark(name.c_str(), [&lib, s, threads](benchmark::State& st) {
                    run_gemm(st, lib, s, threads);
                })->UseRealTime()->Unit(benchmark::kMicrosecond);
            }

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
