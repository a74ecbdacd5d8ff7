// The profiler behind --profile (attend/profile.hpp): scopes nest, op time is self time and
// adds up to no more than the wall time, nothing is recorded while off or inside an OpenMP
// region, and the ops and the tape report under the names the table shows. No assertion is on
// how long anything took, only on how the buckets relate.
#include <gtest/gtest.h>

#include "attend/autograd.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"

using namespace attend;

namespace {

// Every test starts from zeroed buckets with profiling on, and leaves it off.
class Profile : public ::testing::Test {
protected:
    void SetUp() override {
        profile::reset();
        profile::enable(true);
    }
    void TearDown() override {
        profile::enable(false);
        profile::reset();
    }
    static profile::Entry op(const char* name) { return profile::find(name, profile::Kind::op); }
    static profile::Entry phase(const char* name) { return profile::find(name, profile::Kind::phase); }
};

// Something for a scope to time that the optimiser cannot drop.
float busy(int n) {
    volatile float s = 0;
    for (int i = 0; i < n; ++i) s = s + float(i) * 0.5f;
    return s;
}

}  // namespace

TEST_F(Profile, NestedScopesCountCallsAndSubtractChildrenFromSelfTime) {
    for (int i = 0; i < 3; ++i) {
        const ProfileScope outer("outer");
        busy(1000);
        for (int j = 0; j < 2; ++j) {
            const ProfileScope inner("inner");
            busy(1000);
        }
    }
    const profile::Entry outer = op("outer"), inner = op("inner");
    EXPECT_EQ(outer.calls, 3);
    EXPECT_EQ(inner.calls, 6);
    // Self = inclusive minus the nested scopes; the inner scopes have nothing nested.
    EXPECT_DOUBLE_EQ(inner.self_ms, inner.inclusive_ms);
    EXPECT_LE(outer.self_ms, outer.inclusive_ms);
    EXPECT_NEAR(outer.self_ms + inner.inclusive_ms, outer.inclusive_ms, 1e-6);
    EXPECT_GE(outer.self_ms, 0.0);
    // Self times never add up to more than the wall time since enable().
    EXPECT_LE(outer.self_ms + inner.self_ms, profile::wall_ms());
}

TEST_F(Profile, PhasesAndOpsNestIndependently) {
    {
        const PhaseScope phase("decode");
        const ProfileScope scope("linear");
        busy(1000);
    }
    // The op inside the phase does not make the phase's self time smaller.
    EXPECT_DOUBLE_EQ(phase("decode").self_ms, phase("decode").inclusive_ms);
    EXPECT_GE(phase("decode").inclusive_ms, op("linear").inclusive_ms);
    EXPECT_EQ(op("decode").calls, 0);  // the kinds are apart
    EXPECT_EQ(phase("linear").calls, 0);
}

TEST_F(Profile, DisabledRecordsNothing) {
    profile::enable(false);
    {
        const ProfileScope scope("linear");
        const PhaseScope phase("prefill");
        matmul(Tensor::ones({2, 3}), Tensor::ones({3, 2}));
    }
    EXPECT_TRUE(profile::snapshot().empty());
    // A scope open when profiling is switched on does not record either (it never began).
    {
        const ProfileScope scope("late");
        profile::enable(true);
    }
    EXPECT_EQ(op("late").calls, 0);
}

TEST_F(Profile, ScopesInsideOpenMpRegionsAreIgnored) {
#pragma omp parallel num_threads(2)
    {
        const ProfileScope scope("worker");
        busy(100);
    }
    { const ProfileScope scope("main"); }
    EXPECT_EQ(op("worker").calls, 0);
    EXPECT_EQ(op("main").calls, 1);
}

TEST_F(Profile, OpsAndTheTapeReportUnderTheirNames) {
    Tensor x = Tensor::ones({4, 8}), w = Tensor::ones({3, 8});
    w.requires_grad_(true);
    Tensor y = linear(x, w);
    EXPECT_EQ(op("linear").calls, 1);
    const int64_t before = op("sum").calls + op("matmul").calls + op("mul").calls;
    sum(y).backward();
    EXPECT_EQ(op("sum").calls, 1);
    EXPECT_EQ(op("linear backward").calls, 1);
    EXPECT_EQ(op("sum backward").calls, 1);
    // The forward ops a backward is written with count as the backward, not as themselves.
    EXPECT_EQ(op("sum").calls + op("matmul").calls + op("mul").calls, before + 1);  // + the forward sum
    ASSERT_TRUE(w.grad().defined());

    const std::string table = profile::report();
    for (const char* name : {"linear", "linear backward", "sum backward", "op (self time)", "phase"})
        EXPECT_NE(table.find(name), std::string::npos) << name << " missing from\n" << table;
}

TEST_F(Profile, ResetZeroesTheBuckets) {
    { const ProfileScope scope("linear"); }
    EXPECT_EQ(op("linear").calls, 1);
    profile::reset();
    EXPECT_EQ(op("linear").calls, 0);
    EXPECT_TRUE(profile::snapshot().empty());
}
