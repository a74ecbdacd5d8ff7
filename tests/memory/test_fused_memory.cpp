// Peak heap memory of the fused attention path, measured (every heap byte is counted:
// memory/counting_allocator.hpp).
//
// The claim under test: at T = 16384, D = 64, one head, the fused forward + backward needs
// far less than 64 MiB beyond its inputs, where the reference's weights alone are
// T² · 4 B = 1 GiB.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "attend/attention.hpp"
#include "attend/autograd.hpp"
#include "attend/random.hpp"
#include "memory/counting_allocator.hpp"

namespace {

using namespace attend;

constexpr int64_t kMiB = int64_t(1) << 20;

// Peak heap bytes above what was live when the scope began.
class PeakScope {
public:
    PeakScope() : base_(counted_heap::live_bytes()) { counted_heap::restart_peak(); }
    int64_t extra() const { return counted_heap::peak_bytes() - base_; }

private:
    int64_t base_;
};

// Forward + backward at (1, 1, T, D); returns the extra peak in bytes.
int64_t attention_peak(int64_t T, int64_t D, AttentionPath path, bool causal) {
    Generator gen(1);
    Tensor q = Tensor::randn({1, 1, T, D}, gen), k = Tensor::randn({1, 1, T, D}, gen),
           v = Tensor::randn({1, 1, T, D}, gen), dout = Tensor::randn({1, 1, T, D}, gen);
    q.requires_grad_();
    k.requires_grad_();
    v.requires_grad_();
    AttentionMask mask;
    mask.causal = causal;
    AttentionOptions options;
    options.path = path;
    PeakScope scope;
    {
        Tensor out = attention(q, k, v, mask, options).output;
        out.backward(dout);
        EXPECT_TRUE(q.grad().defined() && k.grad().defined() && v.grad().defined());
    }
    return scope.extra();
}

TEST(FusedMemory, CounterSeesTensorAllocations) {
    // The counter must see Storage's aligned_alloc, or the bound below proves nothing.
    PeakScope scope;
    {
        Tensor big = Tensor::empty({100 * kMiB / 4});  // 100 MiB
        big.data()[0] = 1.f;
    }
    EXPECT_GE(scope.extra(), 100 * kMiB);
    // A buffer of 2 MiB or more starts on a 2 MiB boundary (huge pages, core/buffer_reuse.cpp):
    // glibc's usable size then includes up to 2 MiB of never-touched slack past its end.
    EXPECT_LT(scope.extra(), 102 * kMiB + 64 * 1024);
    PeakScope scope2;
    { std::vector<float> buffer(2 * kMiB); }  // operator new → malloc
    EXPECT_GE(scope2.extra(), 8 * kMiB) << "operator new is not counted";
}

TEST(FusedMemory, ReferenceAtModestLengthAlreadyExceedsTheBound) {
    // The same measurement on the reference path: T = 4096 weights are 64 MiB per copy.
    const int64_t peak = attention_peak(4096, 64, AttentionPath::reference, false);
    std::printf("[memory] reference T=4096 D=64 forward+backward: extra peak %.1f MiB\n", double(peak) / kMiB);
    EXPECT_GT(peak, 64 * kMiB);
}

TEST(FusedMemory, FusedAtT16384StaysUnder64MiB) {
    for (bool causal : {false, true}) {
        const int64_t peak = attention_peak(16384, 64, AttentionPath::fused, causal);
        std::printf("[memory] fused T=16384 D=64 one head%s forward+backward: extra peak %.1f MiB "
                    "(reference weights alone: 1024 MiB)\n",
                    causal ? " causal" : "", double(peak) / kMiB);
        EXPECT_LT(peak, 64 * kMiB) << (causal ? "causal" : "no mask");
        // Output, gradients of q, k, v: 4 MiB each; anything O(T²) would be ≥ 1 GiB.
        EXPECT_GE(peak, 16 * kMiB) << "the counter missed the output and gradients";
    }
}

}  // namespace
