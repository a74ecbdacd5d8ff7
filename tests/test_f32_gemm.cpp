// Our fp32 GEMM (ops/f32_gemm.cpp: both operands packed per call, 8 × 48 AVX-512 tiles) against
// a float64 loop, for every op(A)/op(B) combination, at shapes that leave every block ragged
// (M not a multiple of the 8-row tile or the 96-row block, N not a multiple of the 48-column
// panel or the 384-column group, K cut into 1, 2 and 3 blocks with a short last one), with
// leading dimensions wider than the rows, alpha/beta as BLAS (beta = 0 overwrites NaN), on one
// thread and two (columns split, or rows when the columns are few). Then the same bits at any
// thread count, and sgemm (ops/gemm.hpp) at a shape it hands to this kernel.
// On a CPU without AVX-512 the kernel must decline (return false) instead.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "ops/f32_gemm.hpp"
#include "ops/gemm.hpp"
#include "support/random_values.hpp"

namespace attend {
namespace {

struct Case {
    int64_t M, N, K;
};
const Case kCases[] = {{1, 1, 1},     {7, 47, 5},    {9, 49, 17},     {17, 95, 385},
                       {33, 100, 770}, {130, 97, 64}, {100, 430, 200}, {13, 50, 1100}};

struct Scaling {
    float alpha, beta;
};
const Scaling kScalings[] = {{1.f, 0.f}, {0.5f, 1.f}, {-2.f, 0.25f}};

using testing::random_vector;

struct Operands {
    int64_t lda, ldb, ldc;
    std::vector<float> A, B, C0;
};

// Row-major storage of op(A) (M, K) and op(B) (K, N), each row padded by 3 unused floats.
Operands make_operands(const Case& c, bool ta, bool tb, Generator& gen) {
    Operands o;
    o.lda = (ta ? c.M : c.K) + 3;
    o.ldb = (tb ? c.K : c.N) + 3;
    o.ldc = c.N + 3;
    o.A = random_vector((ta ? c.K : c.M) * o.lda, gen);
    o.B = random_vector((tb ? c.N : c.K) * o.ldb, gen);
    o.C0 = random_vector(c.M * o.ldc, gen);
    return o;
}

// Checks C against alpha · op(A) · op(B) + beta · C0 in float64, within the bound of a float
// sum of K products and one scaling: (K + 3) · ε · (|alpha| Σ|a·b| + |beta c|).
void expect_close(const Case& c, bool ta, bool tb, const Operands& o, Scaling s, const std::vector<float>& C) {
    const double eps = std::numeric_limits<float>::epsilon();
    for (int64_t i = 0; i < c.M; ++i)
        for (int64_t j = 0; j < c.N; ++j) {
            double sum = 0, magnitude = 0;
            for (int64_t k = 0; k < c.K; ++k) {
                const double a = ta ? o.A[k * o.lda + i] : o.A[i * o.lda + k];
                const double b = tb ? o.B[j * o.ldb + k] : o.B[k * o.ldb + j];
                sum += a * b;
                magnitude += std::fabs(a * b);
            }
            const double base = s.beta == 0.f ? 0.0 : double(s.beta) * o.C0[i * o.ldc + j];
            const double want = double(s.alpha) * sum + base;
            const double bound = (double(c.K) + 3) * eps * (std::fabs(s.alpha) * magnitude + std::fabs(base));
            ASSERT_NEAR(C[i * o.ldc + j], want, bound) << "M=" << c.M << " N=" << c.N << " K=" << c.K << " ta=" << ta
                                                       << " tb=" << tb << " at (" << i << ", " << j << ")";
        }
    for (int64_t i = 0; i < c.M; ++i)  // the padding past N is not written
        for (int64_t j = c.N; j < o.ldc; ++j) ASSERT_EQ(C[i * o.ldc + j], o.C0[i * o.ldc + j]);
}

std::vector<float> run(const Case& c, bool ta, bool tb, const Operands& o, Scaling s) {
    std::vector<float> C = o.C0;
    if (s.beta == 0.f)  // BLAS: beta = 0 ignores C, NaN included
        for (int64_t i = 0; i < c.M; ++i)
            for (int64_t j = 0; j < c.N; ++j) C[i * o.ldc + j] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_TRUE(f32_gemm(ta, tb, c.M, c.N, c.K, s.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, s.beta, C.data(), o.ldc));
    return C;
}

TEST(F32Gemm, MatchesFloat64OnRaggedShapesAtOneAndTwoThreadsWithTheSameBits) {
    if (!f32_gemm_available()) {
        std::vector<float> C(1);
        const float one = 1.f;
        EXPECT_FALSE(f32_gemm(false, false, 1, 1, 1, 1.f, &one, 1, &one, 1, 0.f, C.data(), 1));
        return;
    }
    Generator gen(31);
    for (const Case& c : kCases)
        for (bool ta : {false, true})
            for (bool tb : {false, true}) {
                const Operands o = make_operands(c, ta, tb, gen);
                for (const Scaling& s : kScalings) {
                    set_num_threads(1);
                    const std::vector<float> one = run(c, ta, tb, o, s);
                    expect_close(c, ta, tb, o, s, one);
                    set_num_threads(2);
                    const std::vector<float> two = run(c, ta, tb, o, s);
                    set_num_threads(0);
                    for (size_t i = 0; i < one.size(); ++i)
                        ASSERT_EQ(std::memcmp(&one[i], &two[i], sizeof(float)), 0)
                            << "M=" << c.M << " N=" << c.N << " K=" << c.K << " ta=" << ta << " tb=" << tb << " at " << i;
                }
            }
}

TEST(F32Gemm, KZeroScalesCByBeta) {
    std::vector<float> C = {1.f, std::numeric_limits<float>::quiet_NaN(), 3.f, 4.f};
    if (!f32_gemm_available()) {
        EXPECT_FALSE(f32_gemm(false, true, 2, 2, 0, 1.f, nullptr, 1, nullptr, 1, 0.5f, C.data(), 2));
        return;
    }
    EXPECT_TRUE(f32_gemm(false, true, 2, 2, 0, 1.f, nullptr, 1, nullptr, 1, 0.5f, C.data(), 2));
    EXPECT_EQ(C[0], 0.5f);
    EXPECT_EQ(C[3], 2.f);
    EXPECT_TRUE(f32_gemm(false, true, 2, 2, 0, 1.f, nullptr, 1, nullptr, 1, 0.f, C.data(), 2));
    for (float v : C) EXPECT_EQ(v, 0.f);  // beta = 0 writes zeros, the NaN included
}

// sgemm hands a prompt-sized x·Wᵀ with a wide W to f32_gemm where it runs (ops/gemm.cpp):
// the same bits; correct either way.
TEST(F32Gemm, SgemmUsesItForWidePromptProducts) {
    const Case c{256, 1000, 512};
    Generator gen(32);
    const Operands o = make_operands(c, false, true, gen);
    std::vector<float> via_sgemm = o.C0, direct = o.C0;
    sgemm(false, true, c.M, c.N, c.K, 1.f, o.A.data(), o.lda, o.B.data(), o.ldb, 1.f, via_sgemm.data(), o.ldc);
    expect_close(c, false, true, o, {1.f, 1.f}, via_sgemm);
    if (!f32_gemm_available()) return;
    ASSERT_TRUE(f32_gemm(false, true, c.M, c.N, c.K, 1.f, o.A.data(), o.lda, o.B.data(), o.ldb, 1.f, direct.data(), o.ldc));
    EXPECT_EQ(std::memcmp(via_sgemm.data(), direct.data(), direct.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace attend
