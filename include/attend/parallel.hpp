// parallel.hpp — the one thread pool (OpenMP), shared with the BLAS (oneDNN uses the same
// libgomp runtime), so kernels and GEMMs never oversubscribe the cores.
//
// The threading model, in four rules:
//   1. A kernel parallelises its own outer loop, or runs on the calling thread; never both.
//   2. Whether a loop is worth the pool is decided by worth_threading, one rule for all.
//   3. Inside any parallel region of ours (active or not: `omp parallel if (false)` still
//      counts) a GEMM runs single-threaded (ops/gemm.cpp), so a kernel that calls the BLAS per
//      tile never opens a nested team per tile.
//   4. A decoding step of a few rows runs in one region for the whole step (a "team",
//      src/core/parallel_loop.hpp): its products and attention hand their shares to the
//      region's waiting threads instead of opening a region each.
#pragma once
#include <cstdint>
#include <functional>

namespace attend {

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();            // the pool's size for the next parallel region

// Waking the pool and joining it costs a few microseconds (far more on a busy machine): a
// loop threads only when it touches more than kParallelMinWork elements, has at least two
// tasks (the loop's iterations), and is not already inside a parallel region. Every
// parallel loop of the library asks this — parallel_loop (src/core/parallel_loop.hpp) before
// it opens a region, a kernel that calls a GEMM in its `omp parallel`'s if clause; they differ
// only in how they count `work`:
//   elements touched once (copy, pointwise op, dropout, RoPE)   the element count
//   rows read in two passes (softmax, norms, cross-entropy)     2 × the element count
//   compute-bound loops (GEMM tiles, attention products)        multiply-adds / 8 (or / 16)
constexpr int64_t kParallelMinWork = int64_t(1) << 16;
bool worth_threading(int64_t work, int64_t tasks = 2);

// Runs fn(i) for i in [0, n), split statically over the pool's threads (on the calling thread
// inside a parallel region). For callers outside the library (tools, benchmarks) that have no
// OpenMP of their own; it does not ask worth_threading — the caller knows its work is large.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

}  // namespace attend
