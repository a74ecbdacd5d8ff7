// core/parallel.cpp — OpenMP behind a small interface.
#include "attend/parallel.hpp"

#include <omp.h>

namespace attend {

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }
int num_threads() { return omp_get_max_threads(); }

void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
    if (n <= 1 || omp_in_parallel()) {
        for (int64_t i = 0; i < n; ++i) fn(i);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) fn(i);
}

}  // namespace attend
