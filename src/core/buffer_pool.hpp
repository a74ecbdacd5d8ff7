// core/buffer_pool.hpp — the allocation behind Storage (private): 64-byte aligned float
// buffers, drawn from the BufferReuse pool while a scope is open (attend/buffer_reuse.hpp).
#pragma once
#include <cstddef>
#include <cstdint>

namespace attend::buffer_pool {

float* allocate(int64_t floats);           // nullptr when out of memory
void release(float* data, int64_t floats);  // `floats` as given to allocate

// `bytes` of fresh memory outside the pool, 64-byte aligned, huge pages over its whole 2 MiB
// blocks (buffer_reuse.cpp says why); freed with std::free. nullptr when out of memory.
void* fresh_memory(size_t bytes);

}  // namespace attend::buffer_pool
