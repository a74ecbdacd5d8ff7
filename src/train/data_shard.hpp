// train/data_shard.hpp — how a step's global batch is cut into micro-batches and rank shares.
//
// A step draws one global batch of batch_size × grad_accum rows from the data stream — the
// same draws whatever the number of ranks, so N ranks see the data order of 1 rank. Micro
// batch m is rows [m·batch_size, (m+1)·batch_size); rank r of N takes rows
// [⌊batch_size·r/N⌋, ⌊batch_size·(r+1)/N⌋) of it. Every rank holds the whole global batch (it
// is token ids, small) and so knows how many targets it has in all: each share's loss is
// weighted by its share of them, and the sum of the weighted gradients over shares and ranks
// is the gradient of the global batch's mean loss, exactly as one rank computes it.
#pragma once
#include <cstdint>
#include <utility>

#include "attend/train/data.hpp"

namespace attend {

// Rows [begin, end) of `batch`: inputs, sources, lengths, token types and targets.
Batch batch_rows(const Batch& batch, int64_t begin, int64_t end);

// [begin, end): the rows rank `rank` of `ranks` takes of a micro-batch of `rows` rows.
std::pair<int64_t, int64_t> rank_share(int64_t rows, int rank, int ranks);

}  // namespace attend
