// core/block_cache.hpp — small blocks kept per thread for the next object of their size
// (private to the library).
//
// Every tensor is a TensorImpl and most have a Storage of their own, each its own
// shared_ptr block (~200 and ~100 bytes): a decoding step of GPT-2 small makes and drops
// ~1,000 of them. CachedAllocator hands those blocks out of a free list per thread and size
// (16-byte classes up to kMaxBytes), so after the first step none comes from the heap. A
// list keeps at most kMaxPerClass blocks; a block freed past that, or one freed while its
// thread is ending, goes back to the heap. Blocks move freely between threads: all come
// from operator new at their class size. Under AddressSanitizer nothing is kept, so it still
// sees use after free.
#pragma once
#include <cstddef>

namespace attend {

namespace block_cache {

constexpr size_t kMaxBytes = 512;
constexpr size_t kMaxPerClass = 4096;

void* take(size_t bytes);              // a block of at least `bytes`, 16-byte aligned
void give(void* block, size_t bytes);  // `bytes` as given to take
size_t kept_blocks();                  // in this thread's lists now (for tests)

}  // namespace block_cache

// For std::allocate_shared: the control block and its object from the block cache.
template <class T>
struct CachedAllocator {
    using value_type = T;
    static_assert(alignof(T) <= 16, "the block cache aligns to 16 bytes");
    CachedAllocator() = default;
    template <class U>
    CachedAllocator(const CachedAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
    T* allocate(size_t n) { return static_cast<T*>(block_cache::take(sizeof(T) * n)); }
    void deallocate(T* p, size_t n) noexcept { block_cache::give(p, sizeof(T) * n); }
    template <class U>
    bool operator==(const CachedAllocator<U>&) const noexcept { return true; }
};

}  // namespace attend
