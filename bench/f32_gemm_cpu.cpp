// bench/f32_gemm_cpu.cpp — our fp32 GEMM (ops/f32_gemm.cpp) against oneDNN's sgemm at the
// model's shapes, by CPU time of one thread (the machine it runs on may be shared: wall time
// is noise there, the thread's CPU time much less so). Interleaved A B A B, medians.
//   f32_gemm_cpu [repeats [threads]]   (default 15, 1; with more threads, wall time, since the
//   calling thread's CPU time no longer covers the work — only meaningful on an idle machine)
// Prints per shape: both medians in ms and GFLOP/s, ours/oneDNN, and the largest difference
// of our C from oneDNN's relative to max |C|.
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "ops/f32_gemm.hpp"

namespace {

struct Shape {
    const char* label;
    bool ta, tb;
    int M, N, K;
};

// GPT-2 small prefill (512 tokens, x·Wᵀ) and the training step (6 × 384, 4 × 256 tokens):
// forward x·Wᵀ, dX = dY·W, dW = dYᵀ·X per linear.
constexpr Shape kShapes[] = {
    {"prefill qkv", false, true, 512, 2304, 768},    {"prefill proj", false, true, 512, 768, 768},
    {"prefill fc", false, true, 512, 3072, 768},     {"prefill fc2", false, true, 512, 768, 3072},
    {"train qkv", false, true, 1024, 1152, 384},     {"train proj", false, true, 1024, 384, 384},
    {"train fc", false, true, 1024, 1536, 384},      {"train fc2", false, true, 1024, 384, 1536},
    {"train dX qkv", false, false, 1024, 384, 1152}, {"train dX proj", false, false, 1024, 384, 384},
    {"train dX fc", false, false, 1024, 384, 1536},  {"train dX fc2", false, false, 1024, 1536, 384},
    {"train dW qkv", true, false, 1152, 384, 1024},  {"train dW proj", true, false, 384, 384, 1024},
    {"train dW fc", true, false, 1536, 384, 1024},   {"train dW fc2", true, false, 384, 1536, 1024},
    {"train head", false, true, 1024, 65, 384},      {"train dX head", false, false, 1024, 384, 65},
    {"train dW head", true, false, 65, 384, 1024},   {"ragged", false, true, 500, 1000, 700},
};

int g_threads = 1;

double thread_seconds() {
    timespec ts;
    clock_gettime(g_threads > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
    const int repeats = argc > 1 ? std::atoi(argv[1]) : 15;
    g_threads = argc > 2 ? std::atoi(argv[2]) : 1;
    omp_set_num_threads(g_threads);
    if (!attend::f32_gemm_available()) {
        std::printf("no AVX-512: f32_gemm does not run here\n");
        return 0;
    }
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    std::printf("%-14s %5s %5s %5s  %9s %9s  %7s %7s  %6s  %s\n", "shape", "M", "N", "K", "ours ms", "dnnl ms", "ours GF",
                "dnnl GF", "ratio", "max rel diff");
    for (const Shape& s : kShapes) {
        const int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
        std::vector<float> A(size_t(s.M) * s.K), B(size_t(s.K) * s.N), C1(size_t(s.M) * s.N), C2(C1.size());
        for (float& v : A) v = dist(rng);
        for (float& v : B) v = dist(rng);
        std::vector<double> ours, dnnl;
        for (int r = 0; r < repeats + 1; ++r) {  // the first of each is a warm-up
            double t0 = thread_seconds();
            attend::f32_gemm(s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C1.data(), s.N);
            double t1 = thread_seconds();
            dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f,
                       C2.data(), s.N);
            double t2 = thread_seconds();
            if (r > 0) {
                ours.push_back(t1 - t0);
                dnnl.push_back(t2 - t1);
            }
        }
        std::sort(ours.begin(), ours.end());
        std::sort(dnnl.begin(), dnnl.end());
        const double mo = ours[ours.size() / 2], md = dnnl[dnnl.size() / 2], flop = 2.0 * s.M * s.N * s.K;
        double diff = 0, scale = 0;
        for (size_t i = 0; i < C1.size(); ++i) {
            diff = std::max(diff, double(std::fabs(C1[i] - C2[i])));
            scale = std::max(scale, double(std::fabs(C2[i])));
        }
        std::printf("%-14s %5d %5d %5d  %9.3f %9.3f  %7.1f %7.1f  %6.3f  %.1e\n", s.label, s.M, s.N, s.K, mo * 1e3,
                    md * 1e3, flop / mo * 1e-9, flop / md * 1e-9, mo / md, diff / scale);
    }
    return 0;
}
