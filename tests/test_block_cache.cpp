// The block cache (core/block_cache.hpp): a freed small block serves the next block of its
// size class in the same thread; a list is bounded; blocks may move between threads.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "attend/tensor.hpp"
#include "core/block_cache.hpp"

namespace attend {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kKept = false;  // under ASan every block goes back to the heap
#else
constexpr bool kKept = true;
#endif

TEST(BlockCache, AFreedBlockServesTheNextOfItsClass) {
    const size_t before = block_cache::kept_blocks();
    void* a = block_cache::take(40);
    block_cache::give(a, 40);
    EXPECT_EQ(block_cache::kept_blocks(), before + (kKept ? 1 : 0));
    void* b = block_cache::take(48);  // 33..48 bytes: one class
    if (kKept) {
        EXPECT_EQ(b, a);
    }
    EXPECT_EQ(block_cache::kept_blocks(), before);
    void* c = block_cache::take(64);  // another class: not a
    EXPECT_NE(c, b);
    block_cache::give(b, 48);
    block_cache::give(c, 64);
    void* big = block_cache::take(block_cache::kMaxBytes + 1);  // past the classes: the heap's
    block_cache::give(big, block_cache::kMaxBytes + 1);
    EXPECT_EQ(block_cache::kept_blocks(), before + (kKept ? 2 : 0));
}

TEST(BlockCache, AListKeepsABoundedNumber) {
    std::vector<void*> blocks;
    for (size_t i = 0; i < block_cache::kMaxPerClass + 100; ++i) blocks.push_back(block_cache::take(200));
    const size_t before = block_cache::kept_blocks();
    for (void* b : blocks) block_cache::give(b, 200);
    EXPECT_LE(block_cache::kept_blocks() - before, block_cache::kMaxPerClass);
}

TEST(BlockCache, TensorsMadeInOneThreadAndFreedInAnotherAreFine) {
    // A tensor's handle and storage come from the cache of the thread that made them and go
    // to the cache of the one that drops them.
    std::vector<Tensor> made;
    for (int i = 0; i < 1000; ++i) made.push_back(Tensor::full({3}, float(i)));
    std::thread([&] {
        float sum = 0.f;
        for (const Tensor& t : made) sum += t.data()[0];
        EXPECT_EQ(sum, 999.f * 1000.f / 2.f);
        made.clear();
        for (int i = 0; i < 100; ++i) EXPECT_EQ(Tensor::full({2}, 1.f).data()[1], 1.f);
    }).join();
    for (int i = 0; i < 100; ++i) EXPECT_EQ(Tensor::full({2}, 2.f).data()[0], 2.f);
}

}  // namespace
}  // namespace attend
