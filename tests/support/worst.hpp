// tests/support/worst.hpp — the largest of a test's gaps, with NaN the worst of all.
//
// std::max(worst, gap) returns worst when gap is NaN (every comparison with NaN is false), so
// an output left NaN — never written, or 0/0 — would slip past a `worst <= tolerance` check
// made after the loop. Tests that keep a running worst fold each gap in with worst_of.
#pragma once
#include <algorithm>
#include <cmath>

namespace attend::testing {

inline double worst_of(double worst, double gap) { return std::isnan(gap) ? INFINITY : std::max(worst, gap); }

}  // namespace attend::testing
