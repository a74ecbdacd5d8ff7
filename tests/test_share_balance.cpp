// ShareBalance (core/share_balance.hpp): a split covers every item once, in order, whatever
// the speeds; equal before any measure; follows a thread that is slower; stays within its
// bounds; ignores splits it cannot measure; starts over for a new team size. Then the skinny
// products it splits (ops/gemv.cpp): skewed far off equal, two threads still give the bits of
// one, for every weight type.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "core/parallel_loop.hpp"
#include "core/share_balance.hpp"
#include "ops/gemv.hpp"
#include "support/random_values.hpp"

namespace attend {
namespace {

using Clock = std::chrono::steady_clock;

// Records a split of n items over rates.size() threads in which thread t does rates[t] items
// a microsecond, every thread from the same start.
void record_at_rates(ShareBalance& balance, int64_t n, const std::vector<double>& rates) {
    ShareBalance::Split s = balance.split(n, int(rates.size()));
    for (int t = 0; t < s.threads; ++t) {
        const double us = double(s.last(t) - s.first(t)) / rates[size_t(t)];
        s.end[size_t(t)] = s.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::micro>(us));
    }
    balance.record(s);
}

void expect_covers_once(const ShareBalance::Split& s, int64_t n) {
    ASSERT_EQ(s.first(0), 0);
    ASSERT_EQ(s.last(s.threads - 1), n);
    for (int t = 0; t < s.threads; ++t) ASSERT_LE(s.first(t), s.last(t)) << "thread " << t;
    for (int t = 1; t < s.threads; ++t) ASSERT_EQ(s.first(t), s.last(t - 1)) << "thread " << t;
}

TEST(ShareBalance, EqualSharesBeforeAnyMeasure) {
    const ShareBalance balance;
    const ShareBalance::Split two = balance.split(100, 2);
    EXPECT_EQ(two.last(0), 50);
    const ShareBalance::Split three = balance.split(7, 3);
    expect_covers_once(three, 7);
    for (int t = 0; t < 3; ++t) EXPECT_NEAR(double(three.last(t) - three.first(t)), 7.0 / 3, 1.0);
}

TEST(ShareBalance, FollowsASlowerThreadAndStaysWithinBounds) {
    ShareBalance balance;
    for (int i = 0; i < 400; ++i) record_at_rates(balance, 3000, {2.0, 1.0});  // thread 1 half as fast
    EXPECT_NEAR(balance.speed(0) / balance.speed(1), 2.0, 0.05);
    const ShareBalance::Split s = balance.split(3000, 2);
    EXPECT_NEAR(double(s.last(0)), 2000.0, 20.0);  // two thirds to the faster thread
    // A thread a thousand times slower keeps a quarter of the mean speed.
    for (int i = 0; i < 400; ++i) record_at_rates(balance, 3000, {1000.0, 1.0});
    EXPECT_FLOAT_EQ(balance.speed(1), 0.25f);
    EXPECT_GT(balance.split(3000, 2).last(1) - balance.split(3000, 2).first(1), 0);
    // Back to equal speeds: back to equal shares.
    for (int i = 0; i < 400; ++i) record_at_rates(balance, 3000, {1.0, 1.0});
    EXPECT_NEAR(double(balance.split(3000, 2).last(0)), 1500.0, 15.0);
}

TEST(ShareBalance, EverySplitCoversEveryItemOnceWhateverTheSpeeds) {
    ShareBalance balance;
    Generator gen(3);
    for (int threads = 2; threads <= 5; ++threads)
        for (int64_t n = 0; n <= 200; ++n) {
            std::vector<double> rates;
            for (int t = 0; t < threads; ++t) rates.push_back(0.1 + 10.0 * double(gen.uniform()));
            record_at_rates(balance, n, rates);
            expect_covers_once(balance.split(n, threads), n);
        }
}

TEST(ShareBalance, IgnoresWhatItCannotMeasureAndStartsOverForANewTeamSize) {
    ShareBalance balance;
    for (int i = 0; i < 100; ++i) record_at_rates(balance, 1000, {3.0, 1.0});
    const float skewed = balance.speed(0);
    ASSERT_GT(skewed, 1.3f);
    // A thread without items, or a clock that did not move: nothing learnt.
    record_at_rates(balance, 1, {1.0, 5.0});
    ShareBalance::Split still = balance.split(1000, 2);
    balance.record(still);  // no thread's end was set: no time to measure
    EXPECT_EQ(balance.speed(0), skewed);
    // Three threads: equal shares until measured, whatever two threads learnt.
    const ShareBalance::Split three = balance.split(900, 3);
    EXPECT_EQ(three.last(0), 300);
    EXPECT_EQ(three.last(1), 600);
    record_at_rates(balance, 900, {1.0, 1.0, 1.0});
    EXPECT_FLOAT_EQ(balance.speed(0), 1.f);
}

// The skinny products' rows, split far off equal (thread 0 three times thread 1's share, then
// the reverse): two threads give the bits of one, fp32, bf16 and int8.
TEST(ShareBalance, SkewedSkinnyProductsAreTheBitsOfOneThread) {
    NoGradGuard no_grad;
    const int64_t M = 2, N = 1000, K = 520;
    Generator values(5);
    const std::vector<float> x = testing::random_vector(M * K, values), W = testing::random_vector(N * K, values),
                             bias = testing::random_vector(N, values);
    const Tensor w = Tensor::from_vector({N, K}, W);
    const auto bf16 = LowPrecisionMatrix::quantize(w, WeightType::bf16);
    const auto int8 = LowPrecisionMatrix::quantize(w, WeightType::int8);
    const auto products = [&] {
        std::vector<std::vector<float>> ys(3, std::vector<float>(size_t(M * N)));
        skinny_gemm(M, N, K, x.data(), W.data(), bias.data(), ys[0].data());
        skinny_gemm(M, x.data(), *bf16, bias.data(), ys[1].data());
        skinny_gemm(M, x.data(), *int8, bias.data(), ys[2].data());
        return ys;
    };
    set_num_threads(1);
    const auto alone = products();
    set_num_threads(2);
    for (const std::vector<double>& rates : {std::vector<double>{3.0, 1.0}, std::vector<double>{1.0, 3.0}}) {
        for (int i = 0; i < 400; ++i) record_at_rates(skinny_balance(), 1000, rates);
        const ShareBalance::Split s = skinny_balance().split(63, 2);  // N's 63 chunks of 16 rows
        EXPECT_NEAR(double(s.last(0)) / 63, rates[0] / (rates[0] + rates[1]), 0.05);
        std::vector<std::vector<float>> region = products(), team;
        with_team([&] { team = products(); });
        for (size_t i = 0; i < alone.size(); ++i) {
            EXPECT_EQ(std::memcmp(alone[i].data(), region[i].data(), alone[i].size() * sizeof(float)), 0) << i;
            EXPECT_EQ(std::memcmp(alone[i].data(), team[i].data(), alone[i].size() * sizeof(float)), 0) << i;
        }
    }
    for (int i = 0; i < 400; ++i) record_at_rates(skinny_balance(), 1000, {1.0, 1.0});
    set_num_threads(0);
}

}  // namespace
}  // namespace attend
