// The skinny product behind linear() for few rows (ops/gemv.hpp), against a float64 loop:
// every row count of the dispatch (1, 2, 3, 4 and past 4), weight row counts that are not
// multiples of its blocks or of the threads' 16-row shares, widths that are not multiples of
// 16, with and without a bias, on one thread and on the pool. Then the same with bf16 and int8
// weights (attend/low_precision.hpp) against float64 over the dequantized matrix, and
// linear() with many rows (on the CPU's bf16 dot products where it has them, ops/bf16_gemm.cpp;
// W widened in row blocks before the fp32 GEMM, asked for directly on any CPU); the CPU's bf16 / int8
// dot products (ops/gemv_dot.hpp) within what rounding x costs, and every row the same bits
// alone or in a batch. And fp32 W given input-major (GPT-2's Conv1D layout, read in place),
// in the kernel and through linear(). The tests that reach the kernels run under each kernel
// set the CPU runs (AVX-512, AVX2, generic: support/each_isa.hpp).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/matmul_precision.hpp"
#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "ops/gemv.hpp"
#include "ops/gemv_dot.hpp"
#include "support/each_isa.hpp"
#include "support/random_values.hpp"
#include "support/worst.hpp"

namespace attend {
namespace {

using testing::random_vector;
using testing::worst_of;

// The tests that reach the kernels run once under each kernel set the CPU runs
// (support/each_isa.hpp): the AVX2 kernels are checked on AVX-512 machines too, and the
// generic ones (which AVX-512 machines run for f32 weights) on AVX2 machines.
class SkinnyGemmKernels : public testing::UnderEachIsa {};
ATTEND_UNDER_EACH_ISA(SkinnyGemmKernels);

// Worst |y − exact| / (Σ_k |x_k W_k| + |b|): relative to the size of the terms summed.
double worst_error(int64_t M, int64_t N, int64_t K, const std::vector<float>& x, const std::vector<float>& W,
                   const float* bias, const std::vector<float>& y) {
    double worst = 0.0;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            double exact = bias ? bias[n] : 0.0, size = bias ? std::abs(bias[n]) : 0.0;
            for (int64_t k = 0; k < K; ++k) {
                exact += double(x[size_t(m * K + k)]) * double(W[size_t(n * K + k)]);
                size += std::abs(double(x[size_t(m * K + k)]) * double(W[size_t(n * K + k)]));
            }
            worst = worst_of(worst, std::abs(double(y[size_t(m * N + n)]) - exact) / std::max(size, 1e-30));
        }
    return worst;
}

TEST_P(SkinnyGemmKernels, MatchesFloat64AtEveryShapeOfTheDispatch) {
    Generator gen(7);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (int64_t M : {1, 2, 3, 4, 5, 7, 8})
            for (auto [N, K] : {std::pair<int64_t, int64_t>{16, 16}, {37, 50}, {1000, 768}, {771, 131}, {50, 3000}})
                for (bool with_bias : {false, true}) {
                    const auto x = random_vector(M * K, gen), W = random_vector(N * K, gen), b = random_vector(N, gen);
                    std::vector<float> y(size_t(M * N), NAN);
                    skinny_gemm(M, N, K, x.data(), W.data(), with_bias ? b.data() : nullptr, y.data());
                    EXPECT_LT(worst_error(M, N, K, x, W, with_bias ? b.data() : nullptr, y), 1e-6)
                        << "threads " << threads << " M " << M << " N " << N << " K " << K << " bias " << with_bias;
                }
    }
    set_num_threads(0);
}

// W (N, K) rounded to `type`, and its values widened back (what the kernels must multiply by).
struct Rounded {
    std::shared_ptr<const LowPrecisionMatrix> m;
    std::vector<float> widened;
};
Rounded rounded(int64_t N, int64_t K, WeightType type, Generator& gen) {
    const std::vector<float> W = random_vector(N * K, gen);
    Rounded r{LowPrecisionMatrix::quantize(Tensor::from_vector({N, K}, W), type), {}};
    r.widened = r.m->dequantize().to_vector();
    return r;
}

// fp32 weights used in place from a mapped file start wherever the file puts them: at each of
// the 16 float offsets into a cache line, with NaN in the floats just before and after W (which
// the kernel's whole-line loads must never bring into a sum) and every row count of the dispatch.
TEST_P(SkinnyGemmKernels, WeightsThatStartInsideACacheLineMatchFloat64) {
    Generator gen(8);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (int64_t offset = 0; offset < 16; ++offset)
            for (int64_t M : {1, 3, 4, 6})
                for (auto [N, K] : {std::pair<int64_t, int64_t>{16, 16}, {37, 48}, {300, 768}, {33, 80}}) {
                    const auto x = random_vector(M * K, gen), W = random_vector(N * K, gen), b = random_vector(N, gen);
                    std::vector<float> buffer(size_t(N * K + 48), NAN);  // NaN, W at `offset` into a line, NaN
                    const size_t line = (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64) % 64 / sizeof(float);
                    float* w = buffer.data() + line + offset;
                    std::copy(W.begin(), W.end(), w);
                    std::vector<float> y(size_t(M * N), NAN);
                    skinny_gemm(M, N, K, x.data(), w, b.data(), y.data());
                    EXPECT_LT(worst_error(M, N, K, x, W, b.data(), y), 1e-6)
                        << "threads " << threads << " offset " << offset << " M " << M << " N " << N << " K " << K;
                }
    }
    set_num_threads(0);
}

// W given input-major (ops/gemv.hpp skinny_gemm_input_major): A = Wᵀ (K, N) by rows lda
// apart, as GPT-2's Conv1D weights lie in their checkpoint — at offsets into a cache line,
// with NaN before A, after it and in the lda − N floats between its rows (c_attn's other
// blocks), row strides that are and are not multiples of 16, widths that are not, column
// shares under 16, and more rows of x than the kernel takes at once (8).
TEST_P(SkinnyGemmKernels, InputMajorWeightsMatchFloat64) {
    Generator gen(9);
    struct Shape3 {
        int64_t N, K, lda;
    };
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (int64_t offset : {0, 1, 2, 9, 15})
            for (int64_t M : {1, 2, 3, 4, 5, 8, 11})
                for (const Shape3 s : {Shape3{16, 16, 16}, {37, 50, 37}, {300, 768, 304}, {256, 64, 768}, {17, 40, 32},
                                       {40, 33, 48}, {1000, 20, 1000}})
                    for (bool with_bias : {false, true}) {
                        const int64_t N = s.N, K = s.K;
                        const auto x = random_vector(M * K, gen), W = random_vector(N * K, gen), b = random_vector(N, gen);
                        std::vector<float> buffer(size_t(K * s.lda + 48), NAN);
                        const size_t line = (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64) % 64 / sizeof(float);
                        float* A = buffer.data() + line + offset;
                        for (int64_t k = 0; k < K; ++k)
                            for (int64_t n = 0; n < N; ++n) A[k * s.lda + n] = W[size_t(n * K + k)];
                        std::vector<float> y(size_t(M * N), NAN);
                        skinny_gemm_input_major(M, N, K, x.data(), A, s.lda, with_bias ? b.data() : nullptr, y.data());
                        EXPECT_LT(worst_error(M, N, K, x, W, with_bias ? b.data() : nullptr, y), 1e-6)
                            << "threads " << threads << " offset " << offset << " M " << M << " N " << N << " K " << K
                            << " lda " << s.lda << " bias " << with_bias;
                    }
    }
    set_num_threads(0);
}

// linear() reads a weight kept as its transpose (ops.hpp is_input_major) in place: forward,
// backward and bf16 mixed precision agree with the same weight made contiguous, for few rows
// (the skinny product) and many (the GEMMs).
TEST(SkinnyGemm, LinearReadsAnInputMajorWeightAsItsContiguousCopy) {
    Generator gen(10);
    const int64_t N = 96, K = 80, lda = 3 * N;  // a column block of a (K, 3N) matrix, as c_attn's q
    const Tensor packed = Tensor::from_vector({K, lda}, random_vector(K * lda, gen));
    const Tensor view = packed.slice(1, N, 2 * N).transpose(0, 1);  // (N, K), strides (1, lda)
    ASSERT_TRUE(is_input_major(view));
    ASSERT_FALSE(is_input_major(view.contiguous()));
    const Tensor bias = Tensor::from_vector({N}, random_vector(N, gen));
    for (int64_t rows : {1, 5, 40})
        for (bool bf16 : {false, true}) {
            if (bf16 && !cpu_has_bf16_matmul()) {
                EXPECT_THROW(MatmulPrecisionScope(MatmulPrecision::bf16), Error);
                continue;
            }
            const MatmulPrecisionScope precision(bf16 ? MatmulPrecision::bf16 : MatmulPrecision::f32);
            const Tensor x = Tensor::from_vector({rows, K}, random_vector(rows * K, gen));
            const Tensor g = Tensor::from_vector({rows, N}, random_vector(rows * N, gen));
            struct Result {
                std::vector<float> y, dx, dw, db;
            };
            const auto run = [&](const Tensor& weight) {
                Tensor xi = x.detach(), w = weight.detach(), b = bias.detach();
                xi.requires_grad_(true), w.requires_grad_(true), b.requires_grad_(true);
                const Tensor y = linear(xi, w, b);
                y.backward(g);
                return Result{y.to_vector(), xi.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector()};
            };
            const Result in_place = run(view), copied = run(view.contiguous());
            const double tolerance = bf16 ? 2e-2 : 1e-5;
            const auto close = [&](const std::vector<float>& a, const std::vector<float>& b, const char* what) {
                ASSERT_EQ(a.size(), b.size()) << what;
                double scale = 0;
                for (float v : b) scale = std::max(scale, double(std::abs(v)));
                for (size_t i = 0; i < a.size(); ++i)
                    ASSERT_LE(std::abs(double(a[i]) - b[i]), tolerance * scale)
                        << what << "[" << i << "] rows " << rows << " bf16 " << bf16;
            };
            close(in_place.y, copied.y, "y");
            close(in_place.dx, copied.dx, "dx");
            close(in_place.dw, copied.dw, "dw");
            close(in_place.db, copied.db, "db");
        }
}

TEST(SkinnyGemm, LowPrecisionWeightsMatchFloat64OverTheWidenedMatrix) {
    Generator gen(8);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (WeightType type : {WeightType::bf16, WeightType::int8})
            for (int64_t M = 1; M <= 8; ++M)
                for (auto [N, K] : {std::pair<int64_t, int64_t>{16, 32}, {37, 50}, {771, 131}, {50, 1001}, {33, 7}})
                    for (bool with_bias : {false, true}) {
                        const Rounded W = rounded(N, K, type, gen);
                        const auto x = random_vector(M * K, gen), b = random_vector(N, gen);
                        std::vector<float> y(size_t(M * N), NAN);
                        skinny_gemm(M, x.data(), *W.m, with_bias ? b.data() : nullptr, y.data(),
                                    /*dot_products=*/false);
                        EXPECT_LT(worst_error(M, N, K, x, W.widened, with_bias ? b.data() : nullptr, y), 1e-6)
                            << name_of(type) << " threads " << threads << " M " << M << " N " << N << " K " << K
                            << " bias " << with_bias;
                    }
    }
    set_num_threads(0);
}

// Worst |y − exact| / bound over the outputs, exact over the widened W and unrounded x, where
// the bound is what rounding x to W's precision may cost (ops/gemv_dot.hpp) plus float sums:
//   bf16  each x_k to 8 significant bits: ≤ 2⁻⁸ · Σ|x_k w_k|
//   int8  each x_k to the nearest multiple of sx = max|x| / 127 over its block of 32:
//         ≤ Σ_k (sx_k / 2)·|w_k|, and 1e-5 · Σ|x_k w_k| for the float arithmetic
double worst_against_rounding_bound(WeightType type, int64_t M, int64_t N, int64_t K, const std::vector<float>& x,
                                    const std::vector<float>& W, const float* bias, const std::vector<float>& y) {
    // Half the step of x's int8 grid at each column: max|x| over its block / 127 / 2.
    std::vector<double> half_step(size_t(M * K));
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k0 = 0; k0 < K; k0 += 32) {
            double amax = 0.0;
            for (int64_t k = k0; k < std::min(K, k0 + 32); ++k) amax = std::max(amax, double(std::abs(x[size_t(m * K + k)])));
            for (int64_t k = k0; k < std::min(K, k0 + 32); ++k) half_step[size_t(m * K + k)] = amax / 127.0 / 2.0;
        }
    double worst = 0.0;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            double exact = bias ? bias[n] : 0.0, size = bias ? std::abs(bias[n]) : 0.0, quantum = 0.0;
            for (int64_t k = 0; k < K; ++k) {
                const double xk = x[size_t(m * K + k)], wk = W[size_t(n * K + k)];
                exact += xk * wk;
                size += std::abs(xk * wk);
                quantum += half_step[size_t(m * K + k)] * std::abs(wk);
            }
            const double bound = type == WeightType::bf16 ? size / 256.0 : 1.001 * quantum + 1e-5 * size;
            worst = worst_of(worst, std::abs(double(y[size_t(m * N + n)]) - exact) / std::max(bound, 1e-30));
        }
    return worst;
}

TEST_P(SkinnyGemmKernels, DotProductsStayWithinWhatRoundingXCosts) {
    Generator gen(10);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (WeightType type : {WeightType::bf16, WeightType::int8})
            for (int64_t M = 1; M <= 8; ++M)
                for (auto [N, K] : {std::pair<int64_t, int64_t>{16, 32}, {37, 50}, {771, 131}, {50, 1001}, {33, 7},
                                    {24, 96}, {40, 768}, {1000, 768}})  // the last split over threads
                    for (bool with_bias : {false, true}) {
                        const Rounded W = rounded(N, K, type, gen);
                        const auto x = random_vector(M * K, gen), b = random_vector(N, gen);
                        std::vector<float> y(size_t(M * N), NAN);
                        skinny_gemm(M, x.data(), *W.m, with_bias ? b.data() : nullptr, y.data());
                        EXPECT_LE(worst_against_rounding_bound(type, M, N, K, x, W.widened,
                                                               with_bias ? b.data() : nullptr, y),
                                  1.0)
                            << name_of(type) << " threads " << threads << " M " << M << " N " << N << " K " << K
                            << " bias " << with_bias;
                    }
    }
    set_num_threads(0);
}

// A thread reading W alone takes its share's two halves in turn (RowOrder, the int8 and bf16
// dot-product kernels): every row of the share exactly once, whatever its size, and one stream
// front to back otherwise.
TEST(SkinnyGemm, RowOrderVisitsEveryRowOnce) {
    for (bool two_streams : {false, true})
        for (int64_t n0 : {0, 5})
            for (int64_t rows = 0; rows <= 200; ++rows) {
                const RowOrder order(n0, n0 + rows, two_streams);
                ASSERT_EQ(order.size(), rows);
                std::vector<int> seen(size_t(rows), 0);
                for (int64_t i = 0; i < rows; ++i) {
                    const int64_t n = order[i];
                    ASSERT_TRUE(n >= n0 && n < n0 + rows) << "rows " << rows << " i " << i << " n " << n;
                    ++seen[size_t(n - n0)];
                    if (!two_streams || rows < RowOrder::kMinTwoStreamRows) {
                        ASSERT_EQ(n, n0 + i);
                    }
                }
                for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(seen[size_t(r)], 1) << "rows " << rows << " row " << r;
                if (two_streams && rows >= RowOrder::kMinTwoStreamRows) {  // the second half starts second
                    EXPECT_EQ(order[0], n0);
                    EXPECT_EQ(order[1], n0 + rows / 2);
                }
            }
}

// Decoding one sequence, a kernel may read R rows side by side (SideBySide<R>): every row of the
// share exactly once — group i holds row i of each of the share's R equal parts, in order — and
// the rows past R parts alone, after them; without groups, one row after the other.
template <int R>
void expect_side_by_side_visits_every_row_once() {
    for (bool side_by_side : {false, true})
        for (int64_t n0 : {0, 5})
            for (int64_t rows = 0; rows <= 200; ++rows) {
                std::vector<int> seen(size_t(rows), 0);
                std::vector<std::array<int64_t, R>> groups;
                std::vector<int64_t> alone;
                SideBySide<R>(n0, n0 + rows, side_by_side)
                    .visit([&](const int64_t (&g)[R]) { groups.push_back(std::to_array(g)); },
                           [&](int64_t n) { alone.push_back(n); });
                auto count = [&](int64_t n) {
                    ASSERT_TRUE(n >= n0 && n < n0 + rows) << "R " << R << " rows " << rows << " n " << n;
                    ++seen[size_t(n - n0)];
                };
                for (const auto& g : groups)
                    for (int64_t n : g) count(n);
                for (int64_t n : alone) count(n);
                for (int64_t r = 0; r < rows; ++r)
                    ASSERT_EQ(seen[size_t(r)], 1) << "R " << R << " rows " << rows << " row " << r;
                const int64_t part = side_by_side ? rows / R : 0;
                ASSERT_EQ(int64_t(groups.size()), part);
                for (int64_t i = 0; i < part; ++i)
                    for (int g = 0; g < R; ++g) EXPECT_EQ(groups[size_t(i)][size_t(g)], n0 + g * part + i);
                for (size_t i = 0; i < alone.size(); ++i) EXPECT_EQ(alone[i], n0 + R * part + int64_t(i));
            }
}

// Pairs: the AVX-512 kernels and the AVX2 int8 kernel; quads: the AVX2 f32 and bf16 kernels.
TEST(SkinnyGemm, RowPairsVisitEveryRowOnce) { expect_side_by_side_visits_every_row_once<2>(); }
TEST(SkinnyGemm, RowQuadsVisitEveryRowOnce) { expect_side_by_side_visits_every_row_once<4>(); }

// A row's outputs are the same bits whatever else is in the batch and however the threads
// split W: a server batching requests must answer each as if it ran alone.
TEST_P(SkinnyGemmKernels, EachRowIsTheSameBitsAloneOrInABatch) {
    Generator gen(11);
    const int64_t N = 600, K = 520;  // worth two threads even in int8 (parallel.hpp)
    const auto x = random_vector(8 * K, gen), Wf = random_vector(N * K, gen), b = random_vector(N, gen);
    std::vector<float> Wt(size_t(N * K));  // Wfᵀ (K, N)
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) Wt[size_t(k * N + n)] = Wf[size_t(n * K + k)];
    for (WeightType type : {WeightType::f32, WeightType::bf16, WeightType::int8})
        for (bool dot : {false, true})
            for (int threads : {1, 2}) {
                set_num_threads(threads);
                const auto W = type == WeightType::f32 ? nullptr
                                                       : LowPrecisionMatrix::quantize(Tensor::from_vector({N, K}, Wf), type);
                auto product = [&](int64_t M, const float* xs, float* y) {
                    if (W)
                        skinny_gemm(M, xs, *W, b.data(), y, dot);
                    else if (dot)  // f32 has no dot-product kernel: this pass takes W input-major
                        skinny_gemm_input_major(M, N, K, xs, Wt.data(), N, b.data(), y);
                    else
                        skinny_gemm(M, N, K, xs, Wf.data(), b.data(), y);
                };
                for (int64_t M = 2; M <= 8; ++M) {
                    std::vector<float> batch(size_t(M * N));
                    product(M, x.data(), batch.data());
                    for (int64_t m = 0; m < M; ++m) {
                        std::vector<float> alone(static_cast<size_t>(N));
                        product(1, x.data() + m * K, alone.data());
                        for (int64_t n = 0; n < N; ++n)
                            ASSERT_EQ(alone[size_t(n)], batch[size_t(m * N + n)])
                                << name_of(type) << " dot " << dot << " threads " << threads << " M " << M << " row "
                                << m << " col " << n;
                    }
                }
            }
    set_num_threads(0);
}

// Products that share x (a layer's q, k and v) in one call are each the bits of its own
// skinny_gemm, whichever rows fall to which thread: row counts that are not multiples of 16
// (the split pads each product to whole chunks), widths inside a 64-byte chunk, 1 and 2
// threads. linear_shared_input gives the bits of linear() per weight, with or without the
// shared product (f32 weights, many rows, or a mix of types take one linear() each).
TEST_P(SkinnyGemmKernels, ProductsSharingXAreEachTheBitsOfTheirOwn) {
    Generator gen(12);
    NoGradGuard no_grad;
    for (WeightType type : {WeightType::bf16, WeightType::int8})
        for (int threads : {1, 2})
            for (int64_t K : {int64_t(50), int64_t(520)}) {
                set_num_threads(threads);
                std::vector<Rounded> Ws;
                std::vector<std::vector<float>> bs;
                for (int64_t N : {600, 37, 250}) {  // 600 · 520 is worth two threads (parallel.hpp)
                    Ws.push_back(rounded(N, K, type, gen));
                    bs.push_back(random_vector(N, gen));
                }
                for (int64_t M : {1, 3, 8}) {
                    const auto x = random_vector(M * K, gen);
                    std::vector<SharedInputProduct> products;
                    std::vector<std::vector<float>> ys;
                    for (size_t i = 0; i < Ws.size(); ++i) ys.emplace_back(size_t(M * Ws[i].m->rows()), NAN);
                    for (size_t i = 0; i < Ws.size(); ++i)
                        products.push_back({Ws[i].m.get(), i == 1 ? nullptr : bs[i].data(), ys[i].data()});
                    // Without dot products (the generic kernels) there is nothing to share: then
                    // only linear_shared_input below, one linear() per weight.
                    const bool shared_kernel = has_dot_products(*Ws[0].m);
                    ASSERT_EQ(shared_kernel, GetParam() != Isa::generic);
                    if (shared_kernel) {
                        ASSERT_TRUE(fits_shared_input(M, K, products));
                        skinny_gemm_shared_input(M, x.data(), products);
                    }
                    std::vector<Tensor> weights, biases;
                    for (size_t i = 0; i < Ws.size(); ++i) {
                        const int64_t N = Ws[i].m->rows();
                        std::vector<float> alone(size_t(M * N));
                        skinny_gemm(M, x.data(), *Ws[i].m, products[i].bias, alone.data());
                        for (int64_t j = 0; shared_kernel && j < M * N; ++j)
                            ASSERT_EQ(ys[i][size_t(j)], alone[size_t(j)])
                                << name_of(type) << " threads " << threads << " K " << K << " M " << M << " product "
                                << i << " at " << j;
                        weights.push_back(low_precision_tensor(Ws[i].m));
                        biases.push_back(i == 1 ? Tensor() : Tensor::from_vector({N}, bs[i]));
                    }
                    const Tensor xt = Tensor::from_vector({M, K}, x);
                    const std::vector<Tensor> shared = linear_shared_input(xt, weights, biases);
                    ASSERT_EQ(shared.size(), weights.size());
                    for (size_t i = 0; i < weights.size(); ++i)
                        EXPECT_EQ(shared[i].to_vector(), linear(xt, weights[i], biases[i]).to_vector())
                            << name_of(type) << " threads " << threads << " M " << M << " product " << i;
                }
            }
    // Not shareable: f32 weights, and a mix of bf16 and int8 — one linear() each, the same bits.
    const int64_t K = 96;
    const auto x = random_vector(2 * K, gen), wf = random_vector(40 * K, gen);
    const Tensor xt = Tensor::from_vector({2, K}, x), f32 = Tensor::from_vector({40, K}, wf);
    const Tensor bf16 = low_precision_tensor(rounded(24, K, WeightType::bf16, gen).m),
                 int8 = low_precision_tensor(rounded(24, K, WeightType::int8, gen).m);
    for (const std::vector<Tensor>& weights : {std::vector<Tensor>{f32, f32}, std::vector<Tensor>{bf16, int8}}) {
        const std::vector<Tensor> shared = linear_shared_input(xt, weights);
        for (size_t i = 0; i < weights.size(); ++i) EXPECT_EQ(shared[i].to_vector(), linear(xt, weights[i]).to_vector());
    }
    EXPECT_THROW(linear_shared_input(xt, {f32, f32}, {Tensor()}), Error);  // one bias for two weights
    // A view of part of a bf16 / int8 matrix (its first rows: offset 0, contiguous) is refused
    // as linear() refuses it — never read as the whole matrix into an output of the view's rows.
    const Tensor first_rows = int8.slice(0, 0, 8);
    EXPECT_THROW(linear(xt, first_rows), Error);
    EXPECT_THROW(linear_shared_input(xt, {first_rows, int8}), Error);
    set_num_threads(0);
}

TEST(SkinnyGemm, LinearWithManyRowsWidensLowPrecisionBlocks) {
    Generator gen(9);
    NoGradGuard no_grad;
    for (WeightType type : {WeightType::bf16, WeightType::int8})
        for (int64_t M : {1, 9, 40})  // 1: the skinny kernel; 40: row blocks and the GEMM
            for (auto [N, K] : {std::pair<int64_t, int64_t>{300, 77}, {513, 64}})  // N past one 256-row block
                for (bool with_bias : {false, true}) {
                    const Rounded W = rounded(N, K, type, gen);
                    const auto x = random_vector(M * K, gen), b = random_vector(N, gen);
                    const Tensor y = linear(Tensor::from_vector({M, K}, x), low_precision_tensor(W.m),
                                            with_bias ? Tensor::from_vector({N}, b) : Tensor());
                    ASSERT_EQ(y.shape(), (Shape{M, N}));
                    // Many rows run on the CPU's bf16 dot products where it has them (ops/bf16_gemm.cpp, bf16
                    // and int8 weights), which round x to bf16: each product then carries ≤ 2⁻⁸ relative
                    // error (x's 2⁻⁹, and the sum's).
                    // A few rows run on the CPU's dot products where it has them (ops/gemv_dot.hpp), which
                    // round x to W's precision: held to what that rounding may cost.
                    const bool skinny = use_skinny_gemm(M, N, K);
                    const float* pb = with_bias ? b.data() : nullptr;
                    if (skinny && has_dot_products(*W.m)) {
                        EXPECT_LE(worst_against_rounding_bound(type, M, N, K, x, W.widened, pb, y.to_vector()), 1.0)
                            << name_of(type) << " M " << M << " N " << N << " K " << K << " bias " << with_bias;
                        continue;
                    }
                    const bool x_rounded = !skinny && cpu_has_bf16_dot();
                    EXPECT_LT(worst_error(M, N, K, x, W.widened, pb, y.to_vector()), x_rounded ? 1.0 / 256 : 1e-5)
                        << name_of(type) << " M " << M << " N " << N << " K " << K << " bias " << with_bias;
                    // The widened blocks (what a CPU without bf16 dot products runs), asked for directly.
                    std::vector<float> widened(size_t(M * N), NAN);
                    widened_gemm(M, x.data(), *W.m, pb, widened.data());
                    EXPECT_LT(worst_error(M, N, K, x, W.widened, pb, widened), 1e-5)
                        << "widened " << name_of(type) << " M " << M << " N " << N << " K " << K << " bias "
                        << with_bias;
                }
}

}  // namespace
}  // namespace attend
