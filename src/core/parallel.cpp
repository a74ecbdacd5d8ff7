// core/parallel.cpp — OpenMP behind a small interface (see attend/parallel.hpp).
#include "attend/parallel.hpp"

#include <omp.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <utility>

#include "core/parallel_loop.hpp"

namespace attend {

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }
int num_threads() { return omp_get_max_threads(); }

bool worth_threading(int64_t work, int64_t tasks) {
    return tasks > 1 && work > kParallelMinWork && omp_get_level() == 0 && omp_get_max_threads() > 1;
}

void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
    if (n <= 1 || omp_get_level() > 0) {
        for (int64_t i = 0; i < n; ++i) fn(i);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) fn(i);
}

// ---- the decoding step's team (core/parallel_loop.hpp) ----------------------------------------

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct Team {
    alignas(64) std::atomic<int> generation{0};  // bumped by the leader: a new share, or the end
    alignas(64) std::atomic<int> running{0};     // shares still running on the other threads
    alignas(64) int threads = 1;
    TeamShare share{};
    bool stop = false;  // read after a generation's acquire, written before its release
    std::mutex error_lock;
    std::exception_ptr error;  // the first a share threw on another thread

    void publish() {
        generation.fetch_add(1, std::memory_order_release);
        generation.notify_all();  // a syscall only when a thread sleeps on it
    }
};

thread_local Team* led_team = nullptr;  // the team this thread leads, inside with_team

// ~100 µs of pauses before sleeping: the gaps between a step's shares are a few µs to tens.
constexpr int kSpinsBeforeSleep = 1 << 12;

void serve_team(Team& team, int t) {
    int seen = 0;
    for (;;) {
        int now = team.generation.load(std::memory_order_acquire);
        for (int spin = 0; now == seen && spin < kSpinsBeforeSleep; ++spin) {
            cpu_relax();
            now = team.generation.load(std::memory_order_acquire);
        }
        while (now == seen) {
            team.generation.wait(seen, std::memory_order_acquire);
            now = team.generation.load(std::memory_order_acquire);
        }
        seen = now;
        if (team.stop) return;
        try {
            team.share.call(team.share.fn, t, team.threads);
        } catch (...) {
            const std::lock_guard<std::mutex> hold(team.error_lock);
            if (!team.error) team.error = std::current_exception();
        }
        team.running.fetch_sub(1, std::memory_order_release);
    }
}

}  // namespace

int team_size() { return led_team ? led_team->threads : 0; }

void run_on_team(const TeamShare& share) {
    Team& team = *led_team;
    team.share = share;
    team.running.store(team.threads - 1, std::memory_order_relaxed);
    team.publish();
    std::exception_ptr mine;
    try {
        share.call(share.fn, 0, team.threads);
    } catch (...) {
        mine = std::current_exception();
    }
    while (team.running.load(std::memory_order_acquire) != 0) cpu_relax();
    if (mine) std::rethrow_exception(mine);
    if (team.error) std::rethrow_exception(std::exchange(team.error, nullptr));
}

void with_team(void (*step)(const void* fn), const void* fn) {
    if (led_team || omp_in_parallel() || omp_get_max_threads() < 2) {
        step(fn);
        return;
    }
    Team team;
    std::exception_ptr error;
#pragma omp parallel
    {
        if (omp_get_thread_num() == 0) {
            team.threads = omp_get_num_threads();
            led_team = team.threads > 1 ? &team : nullptr;
            try {
                step(fn);
            } catch (...) {
                error = std::current_exception();
            }
            led_team = nullptr;
            team.stop = true;
            team.publish();
        } else {
            serve_team(team, omp_get_thread_num());
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace attend
