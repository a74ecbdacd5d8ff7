// tools/attend/bench_limits.cpp — the machine's limits, measured in the same run as the
// workloads, so "fraction of the limit" compares numbers taken under the same conditions
// (same clocks, same neighbours on a shared machine):
//
//   FMA peak        every thread runs a register-blocked loop of independent FMAs (12
//                   accumulators: enough to cover FMA latency × issue width on current x86
//                   cores), widest ISA the CPU has, chosen at run time
//   read bandwidth  every thread sums its slice of a 1 GiB buffer on huge pages (--quick:
//                   64 MiB, which may partly sit in a large L3, so it reads high) as 1, 2 and
//                   8 streams, best of a few passes
//   SGEMM           attend::linear (oneDNN's sgemm, or attend's own fp32 GEMM at the shapes
//                   where ops/gemm.cpp chose it as faster) at GPT-2 small's shapes for 512 tokens,
//                   x (512, K) · W (N, K)ᵀ as the model's projections call it
//
// Threads come from attend's pool (parallel_for over one item per thread), so the limits
// use the same threads as the workloads.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "attend/tensor.hpp"
#include "bench.hpp"

namespace attend::cli::bench {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr int kAccumulators = 12;

// Σ of a vector's lanes, through memory (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized).
__attribute__((target("avx512f"))) float lane_sum(__m512 v) {
    float lanes[16];
    _mm512_storeu_ps(lanes, v);
    float sum = 0;
    for (float x : lanes) sum += x;
    return sum;
}

// a ← a·b + c on 12 independent registers, `iterations` times; returns a sum so nothing is
// optimised away. Written out, not as an array, so the accumulators stay in registers at -O2.
// Each accumulator starts from its own value read through a volatile: equal starts let GCC
// merge the 12 chains into one (it did: one FMA per iteration, an impossible "peak").
volatile float g_start = 1.f;
#define ATTEND_FMA12(fma)                                                                           \
    a0 = fma(a0, b, c), a1 = fma(a1, b, c), a2 = fma(a2, b, c), a3 = fma(a3, b, c), a4 = fma(a4, b, c), \
    a5 = fma(a5, b, c), a6 = fma(a6, b, c), a7 = fma(a7, b, c), a8 = fma(a8, b, c), a9 = fma(a9, b, c), \
    a10 = fma(a10, b, c), a11 = fma(a11, b, c)

__attribute__((target("avx512f"))) float fma_loop_avx512(int64_t iterations) {
    const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    const float s0 = g_start;
#define start(i) _mm512_set1_ps(s0 + float(i))
    __m512 a0 = start(0), a1 = start(1), a2 = start(2), a3 = start(3), a4 = start(4), a5 = start(5), a6 = start(6),
           a7 = start(7), a8 = start(8), a9 = start(9), a10 = start(10), a11 = start(11);
#undef start
    for (int64_t i = 0; i < iterations; ++i) ATTEND_FMA12(_mm512_fmadd_ps);
    const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                   _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    return lane_sum(_mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(int64_t iterations) {
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    const float s0 = g_start;
#define start(i) _mm256_set1_ps(s0 + float(i))
    __m256 a0 = start(0), a1 = start(1), a2 = start(2), a3 = start(3), a4 = start(4), a5 = start(5), a6 = start(6),
           a7 = start(7), a8 = start(8), a9 = start(9), a10 = start(10), a11 = start(11);
#undef start
    for (int64_t i = 0; i < iterations; ++i) ATTEND_FMA12(_mm256_fmadd_ps);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    float sum = 0;
    for (float x : lanes) sum += x;
    return sum;
}

float fma_loop_scalar(int64_t iterations) {
    const float b = 0.999999f, c = 1e-7f;
    auto fma = [](float a, float x, float y) { return a * x + y; };
    const float s = g_start;
    float a0 = s, a1 = s + 1, a2 = s + 2, a3 = s + 3, a4 = s + 4, a5 = s + 5, a6 = s + 6, a7 = s + 7, a8 = s + 8,
          a9 = s + 9, a10 = s + 10, a11 = s + 11;
    for (int64_t i = 0; i < iterations; ++i) ATTEND_FMA12(fma);
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
}

struct FmaKernel {
    const char* isa;
    int lanes;
    float (*loop)(int64_t);
};

FmaKernel widest_fma() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return {"avx512f", 16, fma_loop_avx512};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"avx2+fma", 8, fma_loop_avx2};
    return {"scalar", 1, fma_loop_scalar};
}

// Sums of n floats in `streams` equal parts read side by side (the tail after the last whole
// part is added alone), 16 vectors in flight so the loads, not the adds, set the pace. How
// many streams one core reads fastest with depends on the machine (an AVX-512 VM here: 17
// GB/s as one stream, 23 as eight; an AVX2 EPYC VM, 1 GiB on huge pages: 14.2 as one, 15.8
// as two, 9.8 as eight at one thread, 24.9 / 28.7 / 26.8 at two): the limit is the best of 1, 2
// and 8, so no kernel that reads with more streams in flight than the probe can read "over
// 100 %" of it.
__attribute__((target("avx512f"))) float sum_avx512(const float* x, int64_t n, int streams) {
    __m512 s[16];
    for (auto& v : s) v = _mm512_setzero_ps();
    const int per_stream = 16 / streams;  // vectors each stream loads per step
    const int64_t part = n / streams / (16 * per_stream) * (16 * per_stream);
    for (int64_t i = 0; i < part; i += 16 * per_stream)
        for (int j = 0; j < 16; ++j)
            s[j] = _mm512_add_ps(s[j], _mm512_loadu_ps(x + (j / per_stream) * part + i + 16 * (j % per_stream)));
    float total = 0;
    for (auto& v : s) total += lane_sum(v);
    for (int64_t i = part * streams; i < n; ++i) total += x[i];
    return total;
}

__attribute__((target("avx2"))) float sum_avx2(const float* x, int64_t n, int streams) {
    __m256 s[8];
    for (auto& v : s) v = _mm256_setzero_ps();
    const int per_stream = 8 / streams;
    const int64_t part = n / streams / (8 * per_stream) * (8 * per_stream);
    for (int64_t i = 0; i < part; i += 8 * per_stream)
        for (int j = 0; j < 8; ++j)
            s[j] = _mm256_add_ps(s[j], _mm256_loadu_ps(x + (j / per_stream) * part + i + 8 * (j % per_stream)));
    float lanes[8], total = 0;
    for (auto& v : s) {
        _mm256_storeu_ps(lanes, v);
        for (float l : lanes) total += l;
    }
    for (int64_t i = part * streams; i < n; ++i) total += x[i];
    return total;
}

float sum_scalar(const float* x, int64_t n, int /*streams*/) {
    float s[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += x[i + j];
    float total = 0;
    for (float v : s) total += v;
    for (; i < n; ++i) total += x[i];
    return total;
}

using SumFn = float (*)(const float*, int64_t, int);
SumFn widest_sum() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return sum_avx512;
    if (__builtin_cpu_supports("avx2")) return sum_avx2;
    return sum_scalar;
}

volatile float g_sink;  // keeps results alive

// GFLOP/s of the FMA loop on every thread of the pool at once.
double fma_gflops(const FmaKernel& kernel, int threads, bool quick) {
    const int64_t iterations = quick ? 2'000'000 : 25'000'000;  // 12 FMAs each: ~0.01 s / ~0.1 s per pass
    std::vector<float> sink(static_cast<size_t>(threads));
    parallel_for(threads, [&](int64_t t) { sink[size_t(t)] = kernel.loop(iterations / 10); });  // wake the pool
    double best = 0;
    for (int pass = 0; pass < 3; ++pass) {  // the best of three: a preempted pass only reads low
        const auto start = Clock::now();
        parallel_for(threads, [&](int64_t t) { sink[size_t(t)] = kernel.loop(iterations); });
        best = std::max(best, double(threads) * double(iterations) * kAccumulators * kernel.lanes * 2 / since(start) * 1e-9);
    }
    g_sink = sink[0];
    return best;
}

}  // namespace

// A tensor's storage: on 2 MiB boundaries with transparent huge pages asked for, as the
// weights and activations the workloads read lie (core/buffer_reuse.cpp `fresh_memory`). The
// same buffer as `new float[]` on 4 KiB pages read ~10% slower here (a TLB walk every 4 KiB,
// and the hardware prefetcher stops at each page's end), which let bf16 decoding read "113%"
// of the probe. Each thread writes its own contiguous slice first (Tensor::empty leaves the
// pages untouched), so its pages are its own on a NUMA machine.
BandwidthProbe::BandwidthProbe(bool quick, int threads)
    : n_((quick ? int64_t(64) << 20 : int64_t(1) << 30) / int64_t(sizeof(float))), buffer_(Tensor::empty({n_})) {
    set_num_threads(threads);
    const int64_t slice = (n_ + threads - 1) / threads;
    parallel_for(threads, [&](int64_t t) {
        std::fill(buffer_.data() + std::min(n_, t * slice), buffer_.data() + std::min(n_, (t + 1) * slice), 1.f);
    });
}

double BandwidthProbe::gbs(int threads, int passes) {
    const int64_t slice = (n_ + threads - 1) / threads;
    const SumFn sum = widest_sum();
    std::vector<float> sink(static_cast<size_t>(threads));
    double best = 0;
    for (int pass = 0; pass < passes; ++pass)
        for (int streams : {1, 2, 8}) {
            const auto start = Clock::now();
            parallel_for(threads, [&](int64_t t) {
                const int64_t lo = std::min(n_, t * slice), hi = std::min(n_, (t + 1) * slice);
                sink[size_t(t)] = sum(buffer_.data() + lo, hi - lo, streams);
            });
            best = std::max(best, bytes() / since(start) * 1e-9);
        }
    g_sink = sink[0];
    return best;
}

nlohmann::json Limits::to_json() const {
    nlohmann::json gemms = nlohmann::json::array();
    for (const Gemm& g : sgemm)
        gemms.push_back({{"m", g.m}, {"n", g.n}, {"k", g.k}, {"per_block", g.count}, {"gflops", g.gflops}});
    return {{"threads", threads},
            {"fma_isa", fma_isa},
            {"fma_gflops", fma_gflops},
            {"bandwidth_gbs", bandwidth_gbs},
            {"bandwidth_buffer_bytes", bandwidth_bytes},
            {"sgemm", gemms},
            {"sgemm_model_gflops", sgemm_model_gflops}};
}

Limits measure_limits(int threads, bool quick, BandwidthProbe& probe) {
    set_num_threads(threads);
    Limits l;
    l.threads = threads;
    const FmaKernel kernel = widest_fma();
    l.fma_isa = kernel.isa;
    l.fma_gflops = fma_gflops(kernel, threads, quick);
    l.bandwidth_bytes = probe.bytes();
    l.bandwidth_gbs = probe.gbs(threads, quick ? 2 : 4);  // the first pass warms up

    // GPT-2 small's matrices for 512 tokens: per block 4 projections (Q, K, V, out; d × d),
    // MLP up (4d × d) and down (d × 4d).
    const int64_t M = 512, d = 768;
    l.sgemm = {{M, d, d, 4, 0}, {M, 4 * d, d, 1, 0}, {M, d, 4 * d, 1, 0}};
    Generator gen(0);
    double flops_total = 0, seconds_total = 0;
    for (Limits::Gemm& g : l.sgemm) {
        const Tensor x = Tensor::randn({g.m, g.k}, gen), w = Tensor::randn({g.n, g.k}, gen);
        g_sink = linear(x, w).data()[0];  // warm-up: oneDNN's JIT, the pool, the pages
        const double min_time = quick ? 0.0 : 0.3;
        int64_t calls = 0;
        const auto start = Clock::now();
        double seconds = 0;
        do {
            g_sink = linear(x, w).data()[0];  // (M, N) = x · wᵀ
            ++calls;
            seconds = since(start);
        } while (seconds < min_time);
        const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
        g.gflops = flops * double(calls) / seconds * 1e-9;
        flops_total += flops * double(g.count);
        seconds_total += seconds / double(calls) * double(g.count);
    }
    l.sgemm_model_gflops = flops_total / seconds_total * 1e-9;
    return l;
}

}  // namespace attend::cli::bench
