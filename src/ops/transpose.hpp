// ops/transpose.hpp — a matrix written out transposed, private: the loaders' one layout change
// (Hugging Face GPT-2 keeps its Conv1D weights as (in, out), nn.Linear's transpose).
#pragma once
#include <cstdint>

namespace attend {

// dst (C, R), contiguous, = srcᵀ for src (R, C) with strides (row_stride, col_stride) in
// floats — a strided view, such as a column block of GPT-2's packed c_attn. Threads take
// bands of output rows, so each first touches (and faults in) its own part of dst.
void transpose_into(const float* src, int64_t R, int64_t C, int64_t row_stride, int64_t col_stride, float* dst);

}  // namespace attend
