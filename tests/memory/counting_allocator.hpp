// memory/counting_allocator.hpp — every heap allocation of this test process, counted.
//
// The memory tests' executable defines malloc, calloc, realloc, free, aligned_alloc,
// posix_memalign and memalign itself (counting_allocator.cpp). Being the executable, its
// definitions win symbol lookup for every shared library too (libattend's Storage uses
// aligned_alloc, operator new in libstdc++ calls malloc, oneDNN and libgomp call malloc), so
// every heap byte passes through the counters before reaching glibc's own allocator
// (__libc_malloc and friends). Live bytes are counted with malloc_usable_size, so a block is
// subtracted exactly as much as it added.
#pragma once
#include <cstdint>

namespace counted_heap {

int64_t live_bytes();   // allocated and not yet freed
int64_t peak_bytes();   // the most live at once since the last restart_peak()
void restart_peak();    // peak := live
int64_t allocations();  // calls that allocated (malloc, calloc, realloc, the aligned ones), all threads, ever

}  // namespace counted_heap
