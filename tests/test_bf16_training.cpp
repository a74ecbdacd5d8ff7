// bf16 mixed precision for training (attend/matmul_precision.hpp): the GEMM that rounds two
// fp32 operands to bf16 in all the layouts the linear layer needs (ops/bf16_gemm.cpp's
// bf16_sgemm), the linear layer's forward and backward under it against float64 (a gradcheck
// within bf16's rounding), and a tiny GPT trained both ways, the bf16 losses held to the f32
// curve. On a CPU without AVX512-BF16 the GEMM declines and bf16 precision is refused in one
// line instead — each test checks whichever of the two this CPU must do.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include "attend/error.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/low_precision.hpp"
#include "attend/matmul_precision.hpp"
#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "attend/train/trainer.hpp"
#include "ops/gemm.hpp"
#include "support/files.hpp"
#include "support/random_values.hpp"
#include "support/worst.hpp"

namespace attend {
namespace {

using testing::random_vector;
using testing::worst_of;

double rounded(float v) { return double(from_bf16(to_bf16(v))); }

struct Shape3 {
    int64_t M, N, K;
};

// C = op(A) · op(B) (+ bias) (+ C) in each of the four layouts, against float64 over the
// operands rounded to bf16 as the kernel must (products exact, fp32 sums: ≤ (K + 2)·2⁻²⁴ of
// Σ|terms|). Ragged in every blocked dimension; K odd and K past one 512-column block; C's rows
// wider than N (a leading dimension of its own); one thread and two.
TEST(Bf16Sgemm, EveryLayoutMatchesTheSumOfRoundedProducts) {
    const Shape3 shapes[] = {{9, 37, 50}, {13, 100, 257}, {40, 49, 513}, {3, 16, 1}, {64, 130, 1100}, {130, 65, 64}};
    Generator gen(5);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (bool trans_a : {false, true})
            for (bool trans_b : {false, true})
                for (const Shape3& s : shapes)
                    for (bool accumulate : {false, true}) {
                        const int64_t lda = (trans_a ? s.M : s.K) + 3, ldb = (trans_b ? s.K : s.N) + 5, ldc = s.N + 7;
                        const auto A = random_vector((trans_a ? s.K : s.M) * lda, gen);
                        const auto B = random_vector((trans_b ? s.N : s.K) * ldb, gen);
                        const auto bias = random_vector(s.N, gen);
                        const auto C0 = random_vector(s.M * ldc, gen);
                        std::vector<float> C = C0;
                        const bool ran = bf16_sgemm(trans_a, trans_b, s.M, s.N, s.K, A.data(), lda, B.data(), ldb,
                                                    bias.data(), accumulate, C.data(), ldc);
                        ASSERT_EQ(ran, cpu_has_bf16_matmul()) << "runs exactly where the CPU has AVX512-BF16";
                        if (!ran) continue;
                        double worst = 0;
                        for (int64_t m = 0; m < s.M; ++m)
                            for (int64_t n = 0; n < s.N; ++n) {
                                double exact = bias[n] + (accumulate ? C0[m * ldc + n] : 0.0);
                                double size = std::abs(exact);
                                for (int64_t k = 0; k < s.K; ++k) {
                                    const double a = rounded(trans_a ? A[k * lda + m] : A[m * lda + k]);
                                    const double b = rounded(trans_b ? B[n * ldb + k] : B[k * ldb + n]);
                                    exact += a * b;
                                    size += std::abs(a * b);
                                }
                                worst = worst_of(worst, std::abs(C[m * ldc + n] - exact) / ((s.K + 3) * 0x1p-24 * size));
                            }
                        // Past N in each row of C: untouched.
                        for (int64_t m = 0; m < s.M; ++m)
                            for (int64_t n = s.N; n < ldc; ++n) ASSERT_EQ(C[m * ldc + n], C0[m * ldc + n]);
                        EXPECT_LE(worst, 1.0) << "threads " << threads << " trans_a " << trans_a << " trans_b "
                                              << trans_b << " M " << s.M << " N " << s.N << " K " << s.K
                                              << " accumulate " << accumulate;
                    }
    }
    set_num_threads(1);
}

// The linear layer under bf16 against float64 over the fp32 inputs: y = x · Wᵀ + b, and for a
// loss Σ y ⊙ R, dx = R · W, dW = Rᵀ · x, db = Σ_rows R. Each product rounds both operands
// (≤ 2⁻⁹ relative each), so each output is within 2⁻⁷ of Σ|terms| of the exact value; the
// bias gradient is fp32 and within 1e-5. The backward keeps its forward's precision even when
// it runs outside the scope; under f32 the same layer is fp32-exact, so the bf16 results must
// differ from f32 (the bf16 path really ran).
TEST(Bf16Linear, ForwardAndBackwardWithinBf16RoundingOfFloat64) {
    if (!cpu_has_bf16_matmul()) {
        EXPECT_THROW(MatmulPrecisionScope(MatmulPrecision::bf16), Error);
        return;
    }
    const int64_t rows = 37, in = 70, out = 50;  // (rows) ragged against the 8-row tile, (out) against 48
    Generator gen(11);
    const auto xv = random_vector(rows * in, gen), wv = random_vector(out * in, gen), bv = random_vector(out, gen);
    const auto rv = random_vector(rows * out, gen);
    struct Run {
        std::vector<float> y, dx, dw, db;
    };
    auto run = [&](MatmulPrecision p) {
        Tensor x = Tensor::from_vector({rows, in}, xv), w = Tensor::from_vector({out, in}, wv),
               b = Tensor::from_vector({out}, bv);
        x.requires_grad_(true), w.requires_grad_(true), b.requires_grad_(true);
        Tensor loss;
        Tensor y;
        {
            const MatmulPrecisionScope scope(p);
            y = linear(x, w, b);
            loss = sum(mul(y, Tensor::from_vector({rows, out}, rv)));
        }
        loss.backward();  // outside the scope: the forward's precision holds
        return Run{y.to_vector(), x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector()};
    };
    const Run bf = run(MatmulPrecision::bf16), f32 = run(MatmulPrecision::f32);
    double worst_y = 0, worst_dx = 0, worst_dw = 0, worst_db = 0, differs = 0;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) {
            double exact = bv[o], size = std::abs(exact);
            for (int64_t i = 0; i < in; ++i) exact += double(xv[r * in + i]) * wv[o * in + i], size += std::abs(xv[r * in + i] * wv[o * in + i]);
            worst_y = worst_of(worst_y, std::abs(bf.y[r * out + o] - exact) / (0x1p-7 * size));
            differs = std::max(differs, double(std::abs(bf.y[r * out + o] - f32.y[r * out + o])));
        }
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < in; ++i) {
            double exact = 0, size = 0;
            for (int64_t o = 0; o < out; ++o) exact += double(rv[r * out + o]) * wv[o * in + i], size += std::abs(rv[r * out + o] * wv[o * in + i]);
            worst_dx = worst_of(worst_dx, std::abs(bf.dx[r * in + i] - exact) / (0x1p-7 * size));
        }
    for (int64_t o = 0; o < out; ++o) {
        double exact_b = 0;
        for (int64_t i = 0; i < in; ++i) {
            double exact = 0, size = 0;
            for (int64_t r = 0; r < rows; ++r) exact += double(rv[r * out + o]) * xv[r * in + i], size += std::abs(rv[r * out + o] * xv[r * in + i]);
            worst_dw = worst_of(worst_dw, std::abs(bf.dw[o * in + i] - exact) / (0x1p-7 * size));
        }
        for (int64_t r = 0; r < rows; ++r) exact_b += rv[r * out + o];
        worst_db = worst_of(worst_db, std::abs(bf.db[o] - exact_b));
    }
    EXPECT_LE(worst_y, 1.0);
    EXPECT_LE(worst_dx, 1.0);
    EXPECT_LE(worst_dw, 1.0);
    EXPECT_LE(worst_db, 1e-5);
    EXPECT_GT(differs, 0.0) << "bf16 gave the fp32 results bit for bit: the bf16 path did not run";
    // And the gradients really are bf16's: not the fp32 ones.
    double dw_differs = 0;
    for (size_t i = 0; i < bf.dw.size(); ++i) dw_differs = std::max(dw_differs, double(std::abs(bf.dw[i] - f32.dw[i])));
    EXPECT_GT(dw_differs, 0.0);
}

using testing::corpus_file;

TrainOptions tiny_gpt(const std::string& dir, const std::string& precision) {
    TrainOptions o;
    o.data = corpus_file(dir);
    o.out = dir + "/" + precision;
    o.layers = 2, o.heads = 2, o.dim = 64, o.block_size = 32, o.batch_size = 4;
    o.steps = 40, o.warmup = 4, o.lr = 5e-3f, o.eval_every = 10, o.eval_batches = 2;
    o.threads = 1, o.quiet = true, o.seed = 3, o.dropout = 0.1f;
    o.precision = precision;
    return o;
}

// The same tiny GPT (same data, seed, dropout masks) trained 40 steps in f32 and in bf16: the
// bf16 training loss stays within 1% (relative) of f32's at every step and the validation loss
// within 1% at every evaluation (measured here: at most 0.13%), while both learn (the last
// loss under 70% of the first). The losses are not bit for bit f32's: bf16 ran.
TEST(Bf16Training, LossFollowsTheF32Curve) {
    const testing::TempDir tmp;
    const std::string dir = tmp.dir().string();
    if (!cpu_has_bf16_matmul()) {
        try {
            train(tiny_gpt(dir, "bf16"));
            FAIL() << "bf16 training ran on a CPU without AVX512-BF16";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("AVX512-BF16"), std::string::npos) << e.what();
        }
        return;
    }
    const TrainResult f32 = train(tiny_gpt(dir, "f32"));
    const TrainResult bf16 = train(tiny_gpt(dir, "bf16"));
    ASSERT_EQ(f32.train_losses.size(), 40u);
    ASSERT_EQ(bf16.train_losses.size(), f32.train_losses.size());
    double worst = 0;
    bool differs = false;
    for (size_t i = 0; i < f32.train_losses.size(); ++i) {
        const double rel = std::abs(bf16.train_losses[i] - f32.train_losses[i]) / f32.train_losses[i];
        worst = std::max(worst, rel);
        differs = differs || bf16.train_losses[i] != f32.train_losses[i];
        EXPECT_LE(rel, 0.01) << "step " << i + 1 << ": bf16 " << bf16.train_losses[i] << " f32 " << f32.train_losses[i];
    }
    ASSERT_EQ(bf16.val_losses.size(), f32.val_losses.size());
    for (size_t i = 0; i < f32.val_losses.size(); ++i)
        EXPECT_LE(std::abs(bf16.val_losses[i].second - f32.val_losses[i].second) / f32.val_losses[i].second, 0.01)
            << "evaluation at step " << f32.val_losses[i].first;
    EXPECT_TRUE(differs) << "bf16 losses are f32's bit for bit: the bf16 path did not run";
    EXPECT_LT(bf16.train_losses.back(), 0.7f * bf16.train_losses.front());
    std::printf("bf16 vs f32 over 40 steps: worst relative loss difference %.4f; last %.4f vs %.4f\n", worst,
                bf16.train_losses.back(), f32.train_losses.back());
}

// The precision is recorded with the run's options, so a resumed bf16 run stays bf16 and
// reproduces the uninterrupted run's losses bit for bit.
TEST(Bf16Training, ResumeKeepsThePrecisionAndIsExact) {
    if (!cpu_has_bf16_matmul()) {
        EXPECT_THROW(MatmulPrecisionScope(MatmulPrecision::bf16), Error);
        return;
    }
    const testing::TempDir tmp;
    const std::string dir = tmp.dir().string();
    TrainOptions o = tiny_gpt(dir, "bf16");
    o.steps = 8, o.eval_every = 4;
    o.out = dir + "/straight";
    const TrainResult straight = train(o);
    o.out = dir + "/split";
    o.stop_after = 4;
    const TrainResult first = train(o);
    EXPECT_EQ(recorded_train_options(o.out).precision, "bf16");
    TrainOptions resumed = recorded_train_options(o.out);  // as `attend train --resume` starts
    resumed.resume = true, resumed.quiet = true, resumed.threads = 1;
    const TrainResult second = train(resumed);
    std::vector<float> joined = first.train_losses;
    joined.insert(joined.end(), second.train_losses.begin(), second.train_losses.end());
    ASSERT_EQ(joined.size(), straight.train_losses.size());
    for (size_t i = 0; i < joined.size(); ++i) EXPECT_EQ(joined[i], straight.train_losses[i]) << "step " << i + 1;
}

TEST(Bf16Training, PrecisionOptionIsChecked) {
    TrainOptions o;
    o.data = "x.txt", o.out = "out";
    o.precision = "fp16";
    try {
        check_train_options(o);
        FAIL() << "precision fp16 accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--precision"), std::string::npos) << e.what();
    }
    EXPECT_EQ(parse_train_options("{\"precision\": \"bf16\"}", "c.json").precision, "bf16");
    EXPECT_NE(train_options_to_json(parse_train_options("{\"precision\": \"bf16\"}", "c.json")).find("\"precision\":\"bf16\""),
              std::string::npos);
    EXPECT_THROW(matmul_precision_named("f16", "--precision"), Error);
    EXPECT_EQ(matmul_precision(), MatmulPrecision::f32);  // the default, outside any scope
}

}  // namespace
}  // namespace attend
