// core/share_balance.cpp — see core/share_balance.hpp.
#include "core/share_balance.hpp"

#include <algorithm>
#include <cmath>

namespace attend {

namespace {

// Weight of one split in the moving average: a token of GPT-2 small makes ~40–70 splits, so
// the balance follows a change in the machine within a few tokens, while one noisy split (a
// 768 × 768 product takes ~50 µs; an interrupt costs several) moves it by a few per cent.
constexpr float kAverageWeight = 1.f / 16;
// A thread's speed stays within [1/4, 4] of the mean: a thread descheduled for one split does
// not lose its share for long, and none is starved of work.
constexpr float kMinSpeed = 0.25f, kMaxSpeed = 4.f;

}  // namespace

ShareBalance::Split ShareBalance::split(int64_t n, int threads) const {
    Split s;
    s.threads = threads;
    std::array<double, kMaxThreads> speed;
    const bool measured = threads_.load(std::memory_order_relaxed) == threads;
    double total = 0;
    for (int t = 0; t < threads; ++t)
        total += speed[size_t(t)] = measured ? double(speed_[size_t(t)].load(std::memory_order_relaxed)) : 1.0;
    // Every speed is positive, so the boundaries rise from 0 and the last rounded one is ≤ n.
    double before = 0;  // the speeds of threads [0, t)
    for (int t = 0; t < threads; ++t) {
        s.begin[size_t(t)] = std::llround(double(n) * before / total);
        before += speed[size_t(t)];
    }
    s.begin[size_t(threads)] = n;
    s.start = std::chrono::steady_clock::now();
    return s;
}

void ShareBalance::record(const Split& s) {
    const int threads = s.threads;
    if (threads < 2 || threads > kMaxThreads) return;
    // Rate of each thread: its items over the time from the common start to its end.
    std::array<double, kMaxThreads> rate;
    double mean = 0;
    for (int t = 0; t < threads; ++t) {
        const int64_t items = s.last(t) - s.first(t);
        const double seconds = std::chrono::duration<double>(s.end[size_t(t)] - s.start).count();
        if (items <= 0 || !(seconds > 0)) return;  // a thread without work or a clock that did not move: no measure
        mean += rate[size_t(t)] = double(items) / seconds;
    }
    mean /= threads;
    if (threads_.load(std::memory_order_relaxed) != threads) {  // a new team size: start from equal shares
        for (int t = 0; t < threads; ++t) speed_[size_t(t)].store(1.f, std::memory_order_relaxed);
        threads_.store(threads, std::memory_order_relaxed);
    }
    std::array<float, kMaxThreads> next;
    float sum = 0;
    for (int t = 0; t < threads; ++t) {
        const float old = speed_[size_t(t)].load(std::memory_order_relaxed);
        sum += next[size_t(t)] = old + kAverageWeight * (float(rate[size_t(t)] / mean) - old);
    }
    for (int t = 0; t < threads; ++t)  // mean 1, then each within the bounds
        speed_[size_t(t)].store(std::clamp(next[size_t(t)] * float(threads) / sum, kMinSpeed, kMaxSpeed),
                                std::memory_order_relaxed);
}

}  // namespace attend
