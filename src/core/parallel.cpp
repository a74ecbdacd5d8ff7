// core/parallel.cpp — OpenMP behind a small interface (see attend/parallel.hpp).
#include "attend/parallel.hpp"

#include <omp.h>

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

}  // namespace attend
