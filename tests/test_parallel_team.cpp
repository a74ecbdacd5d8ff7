// The decoding step's team (core/parallel_loop.hpp): run_shares hands every share out once,
// on distinct threads, inside with_team as in an OpenMP region; small work stays on the
// caller; nesting and one thread fall back to calling the step; an exception from the step or
// from another thread's share comes out of with_team and leaves the pool usable. Then what
// runs on the team: the skinny products (fp32 row- and input-major, bf16, int8) and the
// few-rows attention give the bits they give in an OpenMP region, and a KV-cache decoding step
// (which takes the team) gives the bits of the same step on one thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "attend/attention.hpp"
#include "attend/autograd.hpp"
#include "attend/low_precision.hpp"
#include "attend/models/transformer.hpp"
#include "attend/nn/kv_cache.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "core/parallel_loop.hpp"
#include "ops/gemv.hpp"
#include "support/random_values.hpp"

namespace attend {
namespace {

using testing::random_vector;

constexpr int64_t kBigWork = kParallelMinWork * 4;

// Sets the pool's size for one test and puts back all cores after it.
struct PoolSize {
    explicit PoolSize(int n) { set_num_threads(n); }
    ~PoolSize() { set_num_threads(0); }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Team, SharesRunOnceEachOnDistinctThreads) {
    const PoolSize pool(2);
    EXPECT_EQ(team_size(), 0);
    bool ran = false;
    with_team([&] {
        ran = true;
        ASSERT_EQ(team_size(), 2);
        // Many hand-offs in a row, each share's (t, threads) and thread recorded.
        for (int round = 0; round < 2000; ++round) {
            std::mutex lock;
            std::vector<std::pair<int64_t, int64_t>> calls;
            std::set<std::thread::id> threads_seen;
            run_shares(kBigWork, 8, [&](int64_t t, int64_t threads) {
                const std::lock_guard<std::mutex> hold(lock);
                calls.push_back({t, threads});
                threads_seen.insert(std::this_thread::get_id());
            });
            ASSERT_EQ(calls.size(), 2u) << "round " << round;
            std::sort(calls.begin(), calls.end());
            EXPECT_EQ(calls[0], std::make_pair(int64_t(0), int64_t(2)));
            EXPECT_EQ(calls[1], std::make_pair(int64_t(1), int64_t(2)));
            EXPECT_EQ(threads_seen.size(), 2u);
        }
        // Writes of a share are seen by the leader once run_shares returns.
        std::vector<int64_t> out(1000, -1);
        run_shares(kBigWork, 1000, [&](int64_t t, int64_t threads) {
            for (int64_t i = 1000 * t / threads; i < 1000 * (t + 1) / threads; ++i) out[size_t(i)] = i * i;
        });
        for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(out[size_t(i)], i * i);
    });
    EXPECT_TRUE(ran);
    EXPECT_EQ(team_size(), 0);
}

TEST(Team, SmallWorkOneTaskNestingAndOneThreadStayOnTheCaller) {
    const PoolSize pool(2);
    const auto shares_of = [](int64_t work, int64_t tasks) {
        std::atomic<int> calls{0}, most{0};
        run_shares(work, tasks, [&](int64_t, int64_t threads) {
            ++calls;
            most = std::max<int>(most, int(threads));
        });
        return std::make_pair(calls.load(), most.load());
    };
    with_team([&] {
        EXPECT_EQ(shares_of(kParallelMinWork, 8), std::make_pair(1, 1));  // not worth the team
        EXPECT_EQ(shares_of(kBigWork, 1), std::make_pair(1, 1));          // one task
        EXPECT_EQ(shares_of(kBigWork, 8), std::make_pair(2, 2));
        bool inner = false;
        with_team([&] {  // nested: the step runs, the outer team stays the one led
            inner = true;
            EXPECT_EQ(team_size(), 2);
            EXPECT_EQ(shares_of(kBigWork, 8), std::make_pair(2, 2));
        });
        EXPECT_TRUE(inner);
        // An OpenMP region of the leader's own is nested in the team's: one thread.
        int region_threads = 0;
#pragma omp parallel
        region_threads = omp_get_num_threads();
        EXPECT_EQ(region_threads, 1);
    });
    EXPECT_EQ(shares_of(kBigWork, 8), std::make_pair(2, 2));  // outside: an OpenMP region

    set_num_threads(1);
    bool ran = false;
    with_team([&] {
        ran = true;
        EXPECT_EQ(team_size(), 0);
        EXPECT_EQ(shares_of(kBigWork, 8), std::make_pair(1, 1));
    });
    EXPECT_TRUE(ran);
}

TEST(Team, ExceptionsFromTheStepOrAShareComeOutAndThePoolStaysUsable) {
    const PoolSize pool(2);
    EXPECT_THROW(with_team([] { throw std::runtime_error("step"); }), std::runtime_error);
    EXPECT_EQ(team_size(), 0);
    for (int thrower : {0, 1}) {
        bool after = false;
        EXPECT_THROW(with_team([&] {
                         run_shares(kBigWork, 8, [&](int64_t t, int64_t) {
                             if (t == thrower) throw std::runtime_error("share");
                         });
                         after = true;
                     }),
                     std::runtime_error)
            << "thrower " << thrower;
        EXPECT_FALSE(after);
        EXPECT_EQ(team_size(), 0);
    }
    std::atomic<int> calls{0};
    with_team([&] { run_shares(kBigWork, 8, [&](int64_t, int64_t) { ++calls; }); });
    EXPECT_EQ(calls.load(), 2);
}

// y of each skinny product in an OpenMP region (outside a team) and on the team.
TEST(Team, SkinnyProductsAndFewRowsAttentionAreTheBitsOfAnOpenMPRegion) {
    const PoolSize pool(2);
    NoGradGuard no_grad;
    const int64_t M = 3, N = 1000, K = 520;
    Generator values(1);
    const std::vector<float> x = random_vector(M * K, values), W = random_vector(N * K, values),
                             bias = random_vector(N, values);
    const Tensor w = Tensor::from_vector({N, K}, W);
    const auto bf16 = LowPrecisionMatrix::quantize(w, WeightType::bf16), int8 = LowPrecisionMatrix::quantize(w, WeightType::int8);
    const auto products = [&] {
        std::vector<std::vector<float>> ys(5, std::vector<float>(size_t(M * N)));
        skinny_gemm(M, N, K, x.data(), W.data(), bias.data(), ys[0].data());
        skinny_gemm_input_major(M, N, K, x.data(), W.data(), N, bias.data(), ys[1].data());  // W read as (K, N)
        skinny_gemm(M, x.data(), *bf16, bias.data(), ys[2].data());
        skinny_gemm(M, x.data(), *int8, bias.data(), ys[3].data());
        skinny_gemm(M, x.data(), *int8, nullptr, ys[4].data(), false);  // widening, not dot products
        return ys;
    };
    const auto region = products();
    std::vector<std::vector<float>> team;
    with_team([&] { team = products(); });
    for (size_t i = 0; i < region.size(); ++i) EXPECT_TRUE(same_bits(region[i], team[i])) << "product " << i;

    // Decoding attention: 1 query row against 900 keys of a (B, H, T, D) cache view.
    Generator gen(4);
    const Tensor q = Tensor::randn({2, 8, 1, 64}, gen), k = Tensor::randn({2, 4, 900, 64}, gen),
                 v = Tensor::randn({2, 4, 900, 64}, gen);
    AttentionMask mask;
    mask.key_lengths = {900, 517};
    mask.query_offsets = {899, 516};
    const std::vector<float> alone = attention(q, k, v, mask).output.to_vector();
    std::vector<float> in_team;
    with_team([&] { in_team = attention(q, k, v, mask).output.to_vector(); });
    EXPECT_TRUE(same_bits(alone, in_team));
}

// A decoding step of a model wide enough that its products and attention are worth two
// threads: on the team (two threads) it gives the bits of one thread, every step.
TEST(Team, DecodingStepsOnTheTeamAreTheBitsOfOneThread) {
    TransformerConfig c;
    c.name = "team";
    c.vocab_size = 700, c.d_model = 256, c.n_layers = 2, c.n_heads = 4, c.d_ff = 1024, c.max_positions = 64;
    c.norm = NormType::layer_norm, c.activation = Activation::gelu_tanh, c.positions = PositionType::learned;
    NoGradGuard no_grad;
    for (const char* dtype : {"f32", "int8"}) {
        Transformer model(c, 3);
        if (std::string(dtype) != "f32") model.convert_weights(parse_weight_type(dtype));
        const auto decode = [&](int threads) {
            const PoolSize pool(threads);
            KVCache cache = model.make_cache(2, 40);
            std::vector<std::vector<float>> steps;
            TokenBatch prompt{{5, 9, 17, 33, 2, 8, 100, 4, 6, 7}, {2, 5}, {}, {}};
            steps.push_back(model.forward_step(prompt, cache, {}, StepLogits::last).to_vector());
            for (int64_t i = 0; i < 20; ++i) {
                TokenBatch step{{(i * 37) % 700, (i * 11 + 3) % 700}, {2, 1}, {}, {}};
                steps.push_back(model.forward_step(step, cache).to_vector());
            }
            return steps;
        };
        const auto one = decode(1), two = decode(2);
        ASSERT_EQ(one.size(), two.size());
        for (size_t s = 0; s < one.size(); ++s) EXPECT_TRUE(same_bits(one[s], two[s])) << dtype << " step " << s;
    }
}

}  // namespace
}  // namespace attend
