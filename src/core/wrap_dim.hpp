// core/wrap_dim.hpp — a dimension as PyTorch takes it (a negative one counts from the end),
// checked against the tensor's rank: one rule and one message for Tensor's views and every
// op that takes a dim. Private to src/.
#pragma once
#include <cstdint>
#include <string>

#include "attend/error.hpp"

namespace attend {

// d in [-ndim, ndim) -> [0, ndim); otherwise Error("<op>: dimension d out of range for a N-d tensor").
inline int64_t wrap_dim(int64_t d, int64_t ndim, const char* op) {
    const int64_t w = d < 0 ? d + ndim : d;
    if (w < 0 || w >= ndim)
        throw Error(std::string(op) + ": dimension " + std::to_string(d) + " out of range for a " +
                    std::to_string(ndim) + "-d tensor");
    return w;
}

}  // namespace attend
