// parallel.hpp — the one thread pool (OpenMP), shared with the BLAS (oneDNN uses the same
// libgomp runtime), so kernels and GEMMs never oversubscribe the cores.
#pragma once
#include <cstdint>
#include <functional>

namespace attend {

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();

// Runs fn(i) for i in [0, n), split statically over the pool's threads.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

}  // namespace attend
