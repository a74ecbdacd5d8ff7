// support/each_isa.hpp — a test run once under each of attend's kernel sets this CPU runs
// (attend/cpu_features.hpp): AVX-512, AVX2 and the generic clones on an AVX-512 machine; AVX2
// and generic on an AVX2 one. So every CI machine checks each set below its best as well.
//   class Fixture : public testing::UnderEachIsa {};
//   TEST_P(Fixture, Name) { ... }   // runs with set_max_isa(GetParam()), restored after
//   ATTEND_UNDER_EACH_ISA(Fixture);
#pragma once
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "attend/cpu_features.hpp"

namespace attend {
inline void PrintTo(Isa isa, std::ostream* os) { *os << name_of(isa); }  // gtest's name for a failing instance
}  // namespace attend

namespace attend::testing {

class UnderEachIsa : public ::testing::TestWithParam<Isa> {
protected:
    void SetUp() override { saved_ = set_max_isa(GetParam()); }
    void TearDown() override { set_max_isa(saved_); }

private:
    Isa saved_ = Isa::avx512;
};

inline std::string isa_name(const ::testing::TestParamInfo<Isa>& info) { return name_of(info.param); }

}  // namespace attend::testing

#define ATTEND_UNDER_EACH_ISA(fixture) \
    INSTANTIATE_TEST_SUITE_P(Isa, fixture, ::testing::ValuesIn(::attend::cpu_isas()), ::attend::testing::isa_name)
