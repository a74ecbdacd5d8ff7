// buffer_reuse.hpp — keep freed tensor buffers for the next tensor of the same size.
//
// A training step allocates the same activations and gradients every step, a decoding step
// the same small activations every token. Without reuse each large buffer is a fresh mmap:
// zero-filled pages faulted in one by one (measured ~13% of a 1-thread training step's CPU
// time, as system time) and handed back at the end of the step; each small one a malloc and
// a free. While a BufferReuse scope is open anywhere in the process, a freed buffer is kept in
// a pool and handed to the next Tensor of its size class, so from the second step on a step
// allocates nothing new. Below 256 KiB a buffer's class is its size (in 64-byte steps); from
// 256 KiB on, a buffer allocated in a scope is allocated at its class (four per power of two),
// and only such a one is kept. At most 2 GiB is kept (beyond that a buffer is freed as
// before); closing the last scope frees the pool. Outside scopes allocation is exactly as
// without the pool (no rounding, nothing kept). Training (train/trainer.cpp) and generation
// (generate/generate.cpp) open one.
//
//   { BufferReuse reuse; for (step ...) { forward; backward; optimizer; } }
//
// A reused buffer holds stale values: Tensor::empty is uninitialised either way, and this makes
// a kernel that reads what it never wrote fail visibly (nondeterministic results) instead of
// quietly reading the zeros of a fresh page. Under AddressSanitizer nothing is kept, so it still
// sees use after free.
#pragma once
#include <cstdint>

namespace attend {

class BufferReuse {
public:
    BufferReuse();
    ~BufferReuse();
    BufferReuse(const BufferReuse&) = delete;
    BufferReuse& operator=(const BufferReuse&) = delete;

    static int64_t cached_bytes();  // held in the pool now (for tests)
};

}  // namespace attend
