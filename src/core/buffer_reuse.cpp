// core/buffer_reuse.cpp — the size-class pool behind BufferReuse and Storage's allocation.
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "attend/buffer_reuse.hpp"
#include "core/buffer_pool.hpp"

namespace attend {

namespace {

// Below this a buffer's size class is its size (in 64-byte steps); from it on, four classes per
// power of two, and a buffer is kept only if it was allocated at its class's size.
constexpr size_t kMinClassedBytes = size_t(256) << 10;
constexpr size_t kMaxPooledBytes = size_t(2) << 30;    // total kept; beyond it a buffer is freed

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPoolAllowed = false;  // ASan should see every free
#else
constexpr bool kPoolAllowed = true;
#endif

// Bytes a pooled buffer of n floats takes: 64-byte multiples below the pool's threshold; above
// it, the next of four classes per power of two (1, 1.25, 1.5, 1.75 · 2^k), so a length that
// varies a little (a last, shorter batch) still finds a buffer; at most 25% is unused.
size_t bytes_for(int64_t n) {
    const size_t bytes = (size_t(n < 1 ? 1 : n) * sizeof(float) + 63) / 64 * 64;
    if (bytes < kMinClassedBytes) return bytes;
    const int top = 63 - __builtin_clzll(bytes);  // 2^top <= bytes
    const size_t quarter = size_t(1) << (top - 2);
    return (bytes + quarter - 1) / quarter * quarter;
}

struct Pool {
    std::mutex mutex;
    int scopes = 0;
    size_t held = 0;
    std::map<size_t, std::vector<float*>> free;  // by class size in bytes
    // Buffers allocated at their class size (inside a scope), whether in use or kept. Only
    // these are ever kept: a buffer allocated outside a scope has its exact size, which may
    // be less than its class. Outside scopes nothing is rounded up, so allocation there is
    // exactly as it was without the pool.
    std::unordered_set<float*> classed;

    void clear() {  // caller holds the mutex
        for (auto& [bytes, list] : free)
            for (float* p : list) {
                classed.erase(p);
                std::free(p);
            }
        free.clear();
        held = 0;
    }
};

// Pool::scopes, readable without the lock: outside scopes (most of the time, in most
// programs) a small buffer's allocation and release take no lock at all.
std::atomic<int> open_scopes{0};

Pool& pool() {
    static Pool* p = new Pool;  // never destroyed: Storages may be freed during static destruction
    return *p;
}

}  // namespace

BufferReuse::BufferReuse() {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    ++p.scopes;
    open_scopes.store(p.scopes, std::memory_order_relaxed);
}

BufferReuse::~BufferReuse() {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    if (--p.scopes == 0) p.clear();
    open_scopes.store(p.scopes, std::memory_order_relaxed);
}

int64_t BufferReuse::cached_bytes() {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    return int64_t(p.held);
}

namespace buffer_pool {

// A buffer of 2 MiB or more starts on a 2 MiB boundary and asks for transparent huge pages
// over its whole 2 MiB blocks: a 4 KiB page fault costs ~10 µs on the VMs we run on, and the
// first touch of GPT-2 small's 340 MB of transposed weights took ~80 k of them (`perf stat -e
// page-faults`: 93 k for the Hugging Face folder, 12 k for attend's own file; with huge pages
// 20 k, and its start-up 1.46–1.59 → 0.74–0.83 s). The part past the last whole block keeps
// 4 KiB pages, so no buffer grows in memory. Advice only: where THP is off, nothing changes.
void* fresh_memory(size_t bytes) {
    constexpr size_t kHuge = size_t(2) << 20;
    if (bytes < kHuge) return std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    void* data = nullptr;
    if (::posix_memalign(&data, kHuge, bytes) != 0) return nullptr;
    ::madvise(data, bytes / kHuge * kHuge, MADV_HUGEPAGE);
    return data;
}

float* allocate(int64_t floats) {
    const size_t exact = (size_t(floats < 1 ? 1 : floats) * sizeof(float) + 63) / 64 * 64;
    if (kPoolAllowed && open_scopes.load(std::memory_order_relaxed) > 0) {
        const size_t bytes = bytes_for(floats);
        Pool& p = pool();
        std::lock_guard lock(p.mutex);
        if (p.scopes > 0) {
            const auto it = p.free.find(bytes);
            if (it != p.free.end() && !it->second.empty()) {
                float* data = it->second.back();
                it->second.pop_back();
                p.held -= bytes;
                return data;
            }
            float* data = static_cast<float*>(fresh_memory(bytes));
            if (data && bytes >= kMinClassedBytes) p.classed.insert(data);
            return data;
        }
    }
    return static_cast<float*>(fresh_memory(exact));
}

// A buffer below kMinClassedBytes is its class's size wherever it was allocated, so any of
// them may be kept; a larger one only if it was allocated at its class size.
void release(float* data, int64_t floats) {
    if (data == nullptr) return;
    const size_t bytes = bytes_for(floats);
    if (kPoolAllowed && (bytes >= kMinClassedBytes || open_scopes.load(std::memory_order_relaxed) > 0)) {
        Pool& p = pool();
        std::lock_guard lock(p.mutex);
        const auto it = bytes >= kMinClassedBytes ? p.classed.find(data) : p.classed.end();
        if (bytes < kMinClassedBytes || it != p.classed.end()) {
            if (p.scopes > 0 && p.held + bytes <= kMaxPooledBytes) {
                p.free[bytes].push_back(data);
                p.held += bytes;
                return;
            }
            if (it != p.classed.end()) p.classed.erase(it);
        }
    }
    std::free(data);
}

}  // namespace buffer_pool

}  // namespace attend
