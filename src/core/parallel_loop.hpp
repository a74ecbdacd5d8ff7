// core/parallel_loop.hpp — parallel_loop and run_shares, the library's loops over the pool, and
// the decoding step's team (private to src/: their `omp` pragmas need -fopenmp, which only the
// library is compiled with).
#pragma once
#include <omp.h>

#include <cstdint>

#include "attend/parallel.hpp"

namespace attend {

// Runs body(i) for i in [0, n): split statically over the pool when worth_threading(work, n),
// else on the calling thread without entering OpenMP at all. An inactive region (`omp
// parallel if (false)`) is not free: libgomp ends even a one-thread team with a futex wake, a
// system call (1.2 µs measured on our VMs) — more than a 768-wide decoding op's own work, and
// a GPT-2 token runs ~200 such ops. So the library's loops use this; a loop that calls
// a GEMM keeps its `omp parallel` (rule 3 in attend/parallel.hpp) and pays the call.
template <class Body>
inline void parallel_loop(int64_t n, int64_t work, Body&& body) {
    if (worth_threading(work, n)) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) body(i);
    } else {
        for (int64_t i = 0; i < n; ++i) body(i);
    }
}

// ---- a team for one decoding step ----------------------------------------------------------
// A GPT-2-small token at two threads is 49 weight products and 12 attention calls of 20–200 µs
// each, and an OpenMP region around each cost ~7.7 µs of it: the calling thread starts its
// share ~3 µs after it enters the region, the region's end and the next start add the rest
// (per region, 2 threads, int8 decoding; an empty region alone 3.1–3.9 µs). with_team opens
// one region for the whole step instead: step() runs on the calling thread (the team's
// leader), the pool's other threads wait in the region, and run_shares hands them each share
// through two cache lines — a generation count the leader bumps, a count of shares still
// running it waits on (~1 µs a hand-off on our VMs, against 3.1–3.9). Waiting threads spin a
// while, then sleep on the generation (a futex) until the next share or the step's end.
//
// Inside step() the leader is in a parallel region: worth_threading is false there and every
// other loop runs on the leader alone, so a step takes a team only when its work is all in
// run_shares' loops — decoding steps of a few rows (their products are skinny GEMVs, their
// attention the few-rows kernel); a GEMM called inside runs single-threaded (rule 3).

// Runs step() on the calling thread with the pool's other threads waiting for run_shares;
// step() alone when there is no pool (one thread, or already inside a region or a team).
// An exception from step() (or a share) comes out of with_team after the team has stopped.
// A function pointer and an object, as TeamShare below: a step's closure allocates nothing.
void with_team(void (*step)(const void* fn), const void* fn);
template <class Step>
void with_team(const Step& step) {
    with_team([](const void* fn) { (*static_cast<const Step*>(fn))(); }, &step);
}

// The threads of the team the calling thread leads (with_team), or 0 outside one.
int team_size();

// One share of work for the team: call(fn, t, threads). A function pointer and an object, not
// a std::function, so handing out a share allocates nothing.
struct TeamShare {
    void (*call)(const void* fn, int t, int threads);
    const void* fn;
};
// share(t, threads) on each thread of the team, t = 0 on the leader; returns when all are done.
void run_on_team(const TeamShare& share);

// share(t, threads) for every t in [0, threads): on the team inside with_team, else in an
// OpenMP region when worth_threading(work, tasks), else share(0, 1) on the calling thread.
// threads_for(work, tasks) is the count it would use (a bound: an OpenMP region may give fewer,
// and share sees the real count).
inline int threads_for(int64_t work, int64_t tasks) {
    if (const int team = team_size(); team > 1) return tasks > 1 && work > kParallelMinWork ? team : 1;
    return worth_threading(work, tasks) ? omp_get_max_threads() : 1;
}
template <class Share>
void run_shares(int64_t work, int64_t tasks, const Share& share) {
    const int threads = threads_for(work, tasks);
    if (threads <= 1) {
        share(0, 1);
    } else if (team_size() > 1) {
        run_on_team({[](const void* fn, int t, int n) { (*static_cast<const Share*>(fn))(t, n); }, &share});
    } else {
#pragma omp parallel num_threads(threads)
        share(omp_get_thread_num(), omp_get_num_threads());
    }
}

}  // namespace attend
