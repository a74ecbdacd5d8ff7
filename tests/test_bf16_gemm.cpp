// The many-row product on bf16 dot products (ops/bf16_gemm.cpp: W packed per call into
// pair-interleaved micro-panels, vdpbf16ps), for bf16 weights and for int8 ones (their values
// exact in bf16, scaled per 32-column block), against an unpacked float64 loop over the same
// values, at
// shapes that leave every block ragged: rows of x not a multiple of the 8-row tile, rows of W
// not a multiple of the 48-row panel or of 16, K odd (pairs straddling rows, packed one by
// one), K cut into 2 and 3 column blocks with a short last one; with and without a bias, on one
// thread and two. Then each output the same bits whatever M and the thread count.
// On a CPU without AVX512-BF16 the product must decline (return false) instead.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "ops/gemv.hpp"
#include "ops/gemv_dot.hpp"
#include "support/random_values.hpp"
#include "support/worst.hpp"

namespace attend {
namespace {

struct Shape3 {
    int64_t M, N, K;
};
// Ragged in every dimension the kernel blocks; the last are prompt-sized and split over threads.
const Shape3 kShapes[] = {{9, 37, 50},  {13, 100, 257}, {40, 49, 513},  {17, 96, 768},   {64, 300, 77},
                          {8, 48, 256}, {11, 16, 3},    {33, 771, 600}, {130, 200, 130}, {10, 60, 1100}};

using testing::random_vector;
using testing::worst_of;

TEST(Bf16Gemm, PackedProductMatchesTheUnpackedSumOfBf16Products) {
    Generator gen(21);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (WeightType type : {WeightType::bf16, WeightType::int8})
            for (const Shape3& s : kShapes)
                for (bool with_bias : {false, true}) {
                    const auto x = random_vector(s.M * s.K, gen), b = random_vector(s.N, gen);
                    const auto W = LowPrecisionMatrix::quantize(
                        Tensor::from_vector({s.N, s.K}, random_vector(s.N * s.K, gen)), type);
                    const std::vector<float> widened = W->dequantize().to_vector();
                    const float* pb = with_bias ? b.data() : nullptr;
                    std::vector<float> y(size_t(s.M * s.N), NAN);
                    const bool ran = bf16_gemm(s.M, x.data(), *W, pb, y.data());
                    ASSERT_EQ(ran, cpu_has_bf16_dot()) << "runs exactly where the CPU has AVX512-BF16";
                    if (!ran) continue;
                    double worst_exact = 0.0, worst_rounding = 0.0;
                    for (int64_t m = 0; m < s.M; ++m)
                        for (int64_t n = 0; n < s.N; ++n) {
                            // exact: over x rounded to bf16 as the kernel does (products exact in
                            // fp32; only the fp32 sums err, ≤ (K + 2)·2⁻²⁴ of Σ|terms|). raw: over x
                            // as given, within what rounding x costs (2⁻⁸ of Σ|terms|, as
                            // tests/test_gemv.cpp holds the decoding kernel to).
                            double exact = pb ? pb[n] : 0.0, raw = exact, size = pb ? std::abs(pb[n]) : 0.0;
                            for (int64_t k = 0; k < s.K; ++k) {
                                const double xk = x[size_t(m * s.K + k)], wk = widened[size_t(n * s.K + k)];
                                exact += double(from_bf16(to_bf16(float(xk)))) * wk;
                                raw += xk * wk;
                                size += std::abs(xk * wk);
                            }
                            const double got = y[size_t(m * s.N + n)];
                            worst_exact = worst_of(worst_exact, std::abs(got - exact) / ((s.K + 2) * 0x1p-24 * size));
                            worst_rounding = worst_of(worst_rounding, std::abs(got - raw) / (size / 256.0));
                        }
                    EXPECT_LE(worst_exact, 1.0) << name_of(type) << " threads " << threads << " M " << s.M << " N "
                                                << s.N << " K " << s.K << " bias " << with_bias;
                    EXPECT_LE(worst_rounding, 1.0) << name_of(type) << " threads " << threads << " M " << s.M << " N "
                                                   << s.N << " K " << s.K << " bias " << with_bias;
                }
    }
    set_num_threads(0);
}

// A prompt's row gets the same bits alone, in any batch and on any number of threads.
TEST(Bf16Gemm, EachOutputIsTheSameBitsWhateverTheRowsAndThreads) {
    Generator gen(22);
    const int64_t N = 300, K = 520, M = 21;  // 21 = two whole 8-row tiles and a tail of 5
    const auto x = random_vector(M * K, gen), b = random_vector(N, gen);
    for (WeightType type : {WeightType::bf16, WeightType::int8}) {
        const auto W = LowPrecisionMatrix::quantize(Tensor::from_vector({N, K}, random_vector(N * K, gen)), type);
        std::vector<float> one_thread(size_t(M * N)), two(size_t(M * N));
        set_num_threads(1);
        const bool ran = bf16_gemm(M, x.data(), *W, b.data(), one_thread.data());
        ASSERT_EQ(ran, cpu_has_bf16_dot());
        if (ran) {
            set_num_threads(2);
            ASSERT_TRUE(bf16_gemm(M, x.data(), *W, b.data(), two.data()));
            EXPECT_EQ(one_thread, two) << name_of(type) << ": 1 and 2 threads";
            for (int64_t m0 : {int64_t(0), int64_t(7), int64_t(16)})
                for (int64_t rows : {int64_t(1), int64_t(3), int64_t(5)}) {
                    std::vector<float> part(size_t(rows * N));
                    ASSERT_TRUE(bf16_gemm(rows, x.data() + m0 * K, *W, b.data(), part.data()));
                    for (int64_t i = 0; i < rows * N; ++i)
                        ASSERT_EQ(part[size_t(i)], one_thread[size_t(m0 * N + i)])
                            << name_of(type) << ": rows " << m0 << " + " << rows;
                }
        }
    }
    set_num_threads(0);
}

}  // namespace
}  // namespace attend
