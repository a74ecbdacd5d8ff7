// train/data_shard.cpp — cutting a global batch into micro-batches and rank shares (see
// train/data_shard.hpp).
#include "train/data_shard.hpp"

#include "attend/error.hpp"

namespace attend {

namespace {

// Rows [begin, end) of a (B, T) token batch; its width T stays, so every share is padded as
// the global batch was (and computes what one rank computes for those rows).
TokenBatch token_rows(const TokenBatch& t, int64_t begin, int64_t end) {
    if (t.shape.size() != 2) return t;  // absent (no encoder input)
    const int64_t T = t.length();
    TokenBatch r;
    r.shape = {end - begin, T};
    r.ids.assign(t.ids.begin() + begin * T, t.ids.begin() + end * T);
    if (!t.lengths.empty()) r.lengths.assign(t.lengths.begin() + begin, t.lengths.begin() + end);
    if (!t.token_types.empty()) r.token_types.assign(t.token_types.begin() + begin * T, t.token_types.begin() + end * T);
    return r;
}

}  // namespace

Batch batch_rows(const Batch& b, int64_t begin, int64_t end) {
    const int64_t B = b.input.batch();
    ATTEND_CHECK(0 <= begin && begin < end && end <= B, "rows [", begin, ", ", end, ") of a batch of ", B);
    Batch r;
    r.input = token_rows(b.input, begin, end);
    r.source = token_rows(b.source, begin, end);
    const int64_t T = int64_t(b.targets.size()) / B;  // targets: (B, T) of the decoder side
    r.targets.assign(b.targets.begin() + begin * T, b.targets.begin() + end * T);
    return r;
}

std::pair<int64_t, int64_t> rank_share(int64_t rows, int rank, int ranks) {
    return {rows * rank / ranks, rows * (rank + 1) / ranks};
}

}  // namespace attend
