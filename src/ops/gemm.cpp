// ops/gemm.cpp — oneDNN's SGEMM behind our signature, and our own (ops/f32_gemm.cpp) at the
// shapes where it measured faster.
#include "ops/gemm.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "attend/error.hpp"
#include "ops/f32_gemm.hpp"

namespace attend {

namespace {

// Where our kernel beats oneDNN: a short prompt (16–64 rows, or up to 255 with K ≥ 2048) on more
// than one thread. There oneDNN barely used the second thread, and its product with GPT-2's
// MLP-down layer (K = 3072) took 2–4× our time (x·Wᵀ, best of 8 over 12 weights from memory, 2
// threads, M = 16 / 32 / 64: 768 × 3072 2.9 / 3.3 / 2.9 ms against 0.66 / 0.94 / 1.5 ms; 3072 ×
// 768 1.03 / 1.05 / 1.50 against 0.61 / 0.83 / 1.44 ms); GPT-2 small's 16-token prompt step on
// two threads, 531–554 tok/s against oneDNN's 301–310 (Zen 5 VM, 2026-12-05). At one thread
// the two were within ±10% there; at M = 12 oneDNN threaded well and was the faster.
// Long prompts (M ≥ 256) once came here too for wide layers (N ≥ 1000, K ≥ 512), from a
// comparison by one thread's CPU time in a loop of the bare two calls (bench/f32_gemm_cpu, Zen 4
// VM). Inside the model that did not hold: a 512-token GPT-2 small prefill, with and without that
// rule by turns (Zen 5 VM, AVX-512, 2026-12-05, medians of 5, eight alternations), ran 769–902
// against 820–971 tok/s at one thread (faster without it in all eight) and 1309–1590 against
// 1437–1667 at two (in seven); oneDNN alone in a warm loop was 13–20% faster than ours at every
// prefill and training shape but one (1024 × 1152 × 384 at two threads, even).
bool own_kernel_faster(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K) {
    if (trans_a || !trans_b || M >= 256) return false;
    const bool threaded = omp_get_level() == 0 && omp_get_max_threads() > 1;
    return threaded && M >= 16 && N >= 256 && (M <= 64 || K >= 2048);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {  // BLAS leaves C·beta; oneDNN rejects K == 0
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
        return;
    }
    if (own_kernel_faster(trans_a, trans_b, M, N, K) &&
        f32_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    // oneDNN threads a GEMM over omp_get_max_threads() unless it is inside an *active* parallel
    // region; inside an inactive one (`omp parallel if (false)`, a kernel deciding its work is
    // too small to share) it would open a nested team per call — hundreds per decoded token
    // from the fused attention's tiles. Inside any region of ours the GEMM runs on this thread
    // (parallel.hpp, rule 3): nthreads-var is per task, so setting it here touches only the
    // region's implicit task, and it is restored.
    const bool nested = omp_get_level() > 0 && omp_get_max_threads() > 1;
    const int saved_threads = nested ? omp_get_max_threads() : 0;
    if (nested) omp_set_num_threads(1);
    dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                      ldb, beta, C, ldc);
    if (nested) omp_set_num_threads(saved_threads);
    ATTEND_CHECK(status == dnnl_success, "dnnl_sgemm failed (status ", int(status), ") for M=", M, " N=", N,
                 " K=", K);
}

}  // namespace attend
