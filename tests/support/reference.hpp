// tests/support/reference.hpp — loading what tests/reference/*.py computed with PyTorch,
// and comparing our tensors to it.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attend/tensor.hpp"

namespace attend::testing {

// Loads <build>/reference/<name>.safetensors; fails the test (not skips) when missing.
std::map<std::string, Tensor> load_reference(const std::string& name);

// A reference tensor of ids (token ids, lengths, targets: PyTorch saved them as floats),
// rounded back to integers; empty for an undefined tensor.
std::vector<int64_t> ids_of(const Tensor& t);

// max |a - b| / max(max |b|, floor): the error relative to the reference's scale.
double relative_error(const Tensor& actual, const Tensor& expected, double floor = 1e-6);

// gtest assertion: shapes equal and relative_error <= tolerance; the message names `what`.
::testing::AssertionResult close_to(const Tensor& actual, const Tensor& expected, double tolerance,
                                    const std::string& what);

}  // namespace attend::testing
