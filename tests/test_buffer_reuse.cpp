// BufferReuse (attend/buffer_reuse.hpp): while a scope is open, a freed buffer comes back for
// the next tensor of its size class (below 256 KiB: its size); outside one nothing is kept;
// closing the last scope frees the pool. Under AddressSanitizer nothing is
// ever kept (so it sees every use after free): that build checks exactly that.
#include <gtest/gtest.h>

#include "attend/buffer_reuse.hpp"
#include "attend/tensor.hpp"

namespace attend {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

constexpr int64_t kBig = int64_t(1) << 18;  // 1 MiB of floats

TEST(BufferReuse, NothingIsKeptWithoutAScope) {
    ASSERT_EQ(BufferReuse::cached_bytes(), 0);
    { const Tensor t = Tensor::empty({kBig}); }
    EXPECT_EQ(BufferReuse::cached_bytes(), 0);
}

TEST(BufferReuse, AFreedBufferServesTheNextTensorOfItsClass) {
    const float* first = nullptr;
    {
        const BufferReuse reuse;
        {
            const Tensor t = Tensor::full({kBig}, 1.f);
            first = t.data();
        }
        EXPECT_EQ(BufferReuse::cached_bytes(), kPooled ? kBig * 4 : 0);
        // A little shorter (a last, shorter batch) rounds up to the same 1 MiB class.
        const Tensor again = Tensor::empty({kBig - 1000});
        if (kPooled) {
            EXPECT_EQ(again.data(), first);
        }
        EXPECT_EQ(BufferReuse::cached_bytes(), 0);
    }
    EXPECT_EQ(BufferReuse::cached_bytes(), 0);
}

TEST(BufferReuse, ASmallBufferServesOnlyItsOwnSize) {
    const BufferReuse reuse;
    const float* first = nullptr;
    {
        const Tensor small = Tensor::empty({1000});
        first = small.data();
    }
    EXPECT_EQ(BufferReuse::cached_bytes(), kPooled ? 4032 : 0);  // 4000 bytes in 64-byte steps
    const Tensor other = Tensor::empty({1100});  // another size: a fresh buffer
    EXPECT_EQ(BufferReuse::cached_bytes(), kPooled ? 4032 : 0);
    const Tensor again = Tensor::empty({1001});  // 4004 bytes: the same 4032
    if (kPooled) {
        EXPECT_EQ(again.data(), first);
    }
    EXPECT_EQ(BufferReuse::cached_bytes(), 0);
}

TEST(BufferReuse, OtherClassesAreNotServed) {
    const BufferReuse reuse;
    { const Tensor t = Tensor::empty({kBig}); }
    const Tensor larger = Tensor::empty({kBig * 2});  // another class: a fresh buffer
    EXPECT_EQ(BufferReuse::cached_bytes(), kPooled ? kBig * 4 : 0);
}

TEST(BufferReuse, ASmallBufferFromBeforeTheScopeIsKept) {
    // Below 256 KiB a buffer is always allocated at its class's size, so it may be kept.
    Tensor before = Tensor::empty({1000});
    const BufferReuse reuse;
    before = Tensor();
    EXPECT_EQ(BufferReuse::cached_bytes(), kPooled ? 4032 : 0);
}

TEST(BufferReuse, ALargeBufferFromBeforeTheScopeIsNotKept) {
    // It was allocated at its exact size, which may be less than its class: never pooled.
    Tensor before = Tensor::empty({kBig - 1000});
    const BufferReuse reuse;
    before = Tensor();
    EXPECT_EQ(BufferReuse::cached_bytes(), 0);
}

TEST(BufferReuse, ThePoolLivesUntilTheLastScopeCloses) {
    {
        const BufferReuse outer;
        {
            const BufferReuse inner;
            { const Tensor t = Tensor::empty({kBig}); }
        }
        EXPECT_EQ(BufferReuse::cached_bytes(), kPooled ? kBig * 4 : 0);
    }
    EXPECT_EQ(BufferReuse::cached_bytes(), 0);
}

}  // namespace
}  // namespace attend
