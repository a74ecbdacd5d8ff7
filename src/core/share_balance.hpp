// core/share_balance.hpp — a split of n items over the threads in proportion to how fast each
// thread has been, for loops whose items cost the same and whose results do not depend on the
// split (the skinny products' rows: ops/gemv.cpp, split_chunks).
//
// Why: an equal split waits on the slower thread, and the threads are not equally fast. GPT-2
// small decoding at two threads (Zen 5 VM, rdtsc around each share of the skinny products):
// the team's other thread ran its equal share 7–15% longer than the leader in 67–90% of the
// splits, with either half of W, so the leader spent ~10% of each product waiting. The other
// thread starts its share ~1 µs late (the hand-off) and then reads W more slowly; which core is
// slower, and by how much, depends on the machine and moves with its load.
//
// How: each split is timed from one start (taken before the shares are handed out, so a
// thread's late start counts against it) to each thread's end. A thread's rate is its items
// over its time; a moving average of each thread's rate relative to the mean sets the next
// split's shares. The split is taken once, before the shares run, so every thread of one split
// sees the same boundaries even while another caller updates the balance.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace attend {

class ShareBalance {
public:
    static constexpr int kMaxThreads = 16;  // callers split more threads equally, without a balance

    // The boundaries of one split: thread t takes items [begin[t], begin[t + 1]).
    struct Split {
        int threads = 1;
        std::array<int64_t, kMaxThreads + 1> begin{};
        std::chrono::steady_clock::time_point start;
        std::array<std::chrono::steady_clock::time_point, kMaxThreads> end{};
        int64_t first(int t) const { return begin[size_t(t)]; }
        int64_t last(int t) const { return begin[size_t(t) + 1]; }  // one past
    };

    // n items over `threads` (1 ≤ threads ≤ kMaxThreads), in proportion to the speeds measured
    // so far (equal before any).
    Split split(int64_t n, int threads) const;
    // Thread t's share of `split` has ended (each thread calls it for its own t).
    static void finished(Split& split, int t) { split.end[size_t(t)] = std::chrono::steady_clock::now(); }
    // Takes a split whose shares have all finished into the speeds.
    void record(const Split& split);

    // Thread t's relative speed (the mean over the threads about 1), for tests.
    float speed(int t) const { return speed_[size_t(t)].load(std::memory_order_relaxed); }

private:
    // Relative speeds for a team of `threads_` threads; plain loads and stores (relaxed): two
    // callers recording at once may lose an update, never split wrongly (split() copies).
    std::array<std::atomic<float>, kMaxThreads> speed_{};
    std::atomic<int> threads_{0};
};

}  // namespace attend
