// train/memory_budget.hpp — will a training run fit in this machine's memory? Asked before
// the model is built, so `--dim 16384 --layers 64` fails in milliseconds with a clear line
// instead of drawing random numbers into hundreds of GB until the kernel kills the process.
// Private to src/train.
#pragma once
#include <cstdint>
#include <string>

#include "attend/models/config.hpp"

namespace attend {

// What a training step holds at its peak, estimated from the shapes alone (a lower bound: a
// run refused by it could never have run).
struct TrainingMemory {
    int64_t parameters = 0;
    uint64_t state_bytes = 0;       // weights, gradients and AdamW's two moments: 16 bytes a parameter
    uint64_t activation_bytes = 0;  // what backward keeps of one micro-batch (see memory_budget.cpp)
    uint64_t total() const { return state_bytes + activation_bytes; }
};
TrainingMemory training_memory(const TransformerConfig& config, int64_t batch, int64_t block);

// The memory this process may use: physical RAM, or the cgroup's memory.max when smaller.
uint64_t usable_memory_bytes();

// An Error naming the sizes, the estimate and the machine's memory when the run cannot fit.
void check_training_fits_memory(const TransformerConfig& config, int64_t batch, int64_t block);

}  // namespace attend
