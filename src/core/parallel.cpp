// core/parallel.cpp — OpenMP behind a small interface (see attend/parallel.hpp).
#include "attend/parallel.hpp"

#include <omp.h>

namespace attend {

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }
int num_threads() { return omp_get_max_threads(); }

bool worth_threading(int64_t work, int64_t tasks) {
    return tasks > 1 && work > kParallelMinWork && omp_get_level() == 0 && omp_get_max_threads() > 1;
}

}  // namespace attend
