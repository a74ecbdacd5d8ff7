// core/buffer_pool.hpp — the allocation behind Storage (private): 64-byte aligned float
// buffers, drawn from the BufferReuse pool while a scope is open (attend/buffer_reuse.hpp).
#pragma once
#include <cstdint>

namespace attend::buffer_pool {

float* allocate(int64_t floats);           // nullptr when out of memory
void release(float* data, int64_t floats);  // `floats` as given to allocate

}  // namespace attend::buffer_pool
