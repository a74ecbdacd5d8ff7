// tests/support/random_values.hpp — random operands for the kernel tests.
#pragma once
#include <cstdint>
#include <vector>

#include "attend/random.hpp"

namespace attend::testing {

// n values uniform in [-1, 1) from `gen`: operands of the size where a kernel's rounding shows.
inline std::vector<float> random_vector(int64_t n, Generator& gen) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = gen.uniform(-1.f, 1.f);
    return v;
}

}  // namespace attend::testing
