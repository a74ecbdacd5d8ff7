// ops/gemm.cpp — oneDNN's SGEMM behind our signature.
#include "ops/gemm.hpp"

#include <oneapi/dnnl/dnnl.h>

#include "attend/error.hpp"

namespace attend {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {  // BLAS leaves C·beta; oneDNN rejects K == 0
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
        return;
    }
    dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                      ldb, beta, C, ldc);
    ATTEND_CHECK(status == dnnl_success, "dnnl_sgemm failed (status ", int(status), ") for M=", M, " N=", N,
                 " K=", K);
}

}  // namespace attend
