// memory/counting_allocator.cpp — the process's malloc family, counted (counting_allocator.hpp).
#include "memory/counting_allocator.hpp"

#include <malloc.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

namespace {

std::atomic<int64_t> g_live{0}, g_peak{0}, g_allocations{0};

void* counted(void* p) {
    if (p) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
        const int64_t live = g_live.fetch_add(int64_t(malloc_usable_size(p))) + int64_t(malloc_usable_size(p));
        int64_t peak = g_peak.load();
        while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
        }
    }
    return p;
}

void uncount(void* p) {
    if (p) g_live.fetch_sub(int64_t(malloc_usable_size(p)));
}

}  // namespace

namespace counted_heap {

int64_t live_bytes() { return g_live.load(); }
int64_t peak_bytes() { return g_peak.load(); }
void restart_peak() { g_peak.store(g_live.load()); }
int64_t allocations() { return g_allocations.load(); }

}  // namespace counted_heap

extern "C" {
void* malloc(size_t n) { return counted(__libc_malloc(n)); }
void* calloc(size_t n, size_t size) { return counted(__libc_calloc(n, size)); }
void* aligned_alloc(size_t alignment, size_t n) { return counted(__libc_memalign(alignment, n)); }
void* memalign(size_t alignment, size_t n) { return counted(__libc_memalign(alignment, n)); }
int posix_memalign(void** out, size_t alignment, size_t n) {
    void* p = counted(__libc_memalign(alignment, n));
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void* realloc(void* p, size_t n) {
    uncount(p);
    void* q = __libc_realloc(p, n);
    if (!q && p && n) {  // failed: the old block lives on (counted again, not as a new allocation)
        g_live.fetch_add(int64_t(malloc_usable_size(p)));
        return nullptr;
    }
    return counted(q);
}
void free(void* p) {
    uncount(p);
    __libc_free(p);
}
}
