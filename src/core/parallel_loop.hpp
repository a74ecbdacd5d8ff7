// core/parallel_loop.hpp — parallel_loop, the library's loop over the pool (private to src/:
// its `omp` pragma needs -fopenmp, which only the library is compiled with).
#pragma once
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

}  // namespace attend
