// core/block_cache.cpp — the free lists behind CachedAllocator (core/block_cache.hpp).
#include "core/block_cache.hpp"

#include <new>

namespace attend::block_cache {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kKeep = false;  // ASan should see every free
#else
constexpr bool kKeep = true;
#endif

constexpr size_t kGrain = 16;
constexpr size_t kClasses = kMaxBytes / kGrain;

size_t class_of(size_t bytes) { return (bytes + kGrain - 1) / kGrain - 1; }  // 1..16 → 0, 17..32 → 1, ...
size_t class_bytes(size_t c) { return (c + 1) * kGrain; }

struct FreeBlock {
    FreeBlock* next;
};

// Trivially destructible, so a block freed during the thread's exit, after the Janitor below
// has run, still finds the lists (and `ending` tells it to go to the heap).
struct Lists {
    FreeBlock* head[kClasses];
    size_t count[kClasses];
    bool ending;
};
thread_local Lists t_lists{};

// Frees what the thread kept when it ends. Touched by the first give() in a thread, which is
// what makes its destructor run.
struct Janitor {
    bool armed = false;
    ~Janitor() {
        t_lists.ending = true;
        for (size_t c = 0; c < kClasses; ++c) {
            while (FreeBlock* b = t_lists.head[c]) {
                t_lists.head[c] = b->next;
                ::operator delete(b, std::align_val_t(kGrain));
            }
            t_lists.count[c] = 0;
        }
    }
};
thread_local Janitor t_janitor;

}  // namespace

void* take(size_t bytes) {
    if (kKeep && bytes <= kMaxBytes && bytes > 0) {
        const size_t c = class_of(bytes);
        if (FreeBlock* b = t_lists.head[c]) {
            t_lists.head[c] = b->next;
            --t_lists.count[c];
            return b;
        }
        return ::operator new(class_bytes(c), std::align_val_t(kGrain));
    }
    return ::operator new(bytes, std::align_val_t(kGrain));
}

void give(void* block, size_t bytes) {
    if (block == nullptr) return;
    if (kKeep && bytes <= kMaxBytes && bytes > 0 && !t_lists.ending) {
        const size_t c = class_of(bytes);
        if (t_lists.count[c] < kMaxPerClass) {
            t_janitor.armed = true;
            auto* b = static_cast<FreeBlock*>(block);
            b->next = t_lists.head[c];
            t_lists.head[c] = b;
            ++t_lists.count[c];
            return;
        }
    }
    ::operator delete(block, std::align_val_t(kGrain));
}

size_t kept_blocks() {
    size_t n = 0;
    for (size_t c = 0; c < kClasses; ++c) n += t_lists.count[c];
    return n;
}

}  // namespace attend::block_cache
