// ops/gemv_row_order.hpp — the order the decoding kernels (ops/gemv.cpp, gemv_dot.cpp and
// their AVX2 forms) read the rows of W in. The results never depend on it: each row's sums are
// the same operations in any order and beside any partner. Internal to src/ops.
#pragma once
#include <cstdint>

namespace attend {

// The order a kernel reads W's rows [n0, n1) in against several rows of x (one row of x: RowPairs,
// below; the AVX2 int8 kernel takes this order for it): row i of the sweep is order[i].
//
// One stream (front to back) is what the hardware prefetcher follows best, but an int8 row
// costs ~8 instructions per 64-byte line (bf16: ~3), and a thread reading alone then keeps too
// few lines in flight: the int8 kernel read at ~80% of a plain sum over the same bytes. Two
// streams — the share's two halves in turn, n0, n0 + h, n0 + 1, n0 + h + 1, … — put two
// independent runs of misses in flight. GPT-2 small's int8 products of a token, one thread:
// 4.40 → 4.18, 4.56 → 4.42, 5.90 → 5.36 ms (faster in 11, 11 and 12 of 12 alternations; 4 streams:
// 7.6 ms); `generate` 16 + 128 tokens, int8, one thread: 167 → 190 and 184 → 199 tok/s (10 of
// 10). The AVX2 int8 kernel (called directly on the same machine, the same products): 5.13 →
// 3.96 and 6.52 → 4.93 ms (12 of 12). bf16 with its prefetch (gemv_dot.cpp, prefetch_row):
// 9.46 → 8.98, 8.40 → 7.83 ms (10 of 10, 11 of 12). Two threads are two streams already: there
// two streams each were slower (int8 271.6 → 265.1, 329.4 → 316.7 tok/s, faster in 4 and 3 of
// 12), so only a thread reading alone takes two. The results do not depend on the order.
struct RowOrder {
    int64_t n0, n1;
    int64_t half = 0;  // rows per stream in the two-stream part; 0: one stream

    static constexpr int64_t kMinTwoStreamRows = 64;  // fewer: one stream
    RowOrder(int64_t first, int64_t end, bool two_streams)
        : n0(first), n1(end), half(two_streams && end - first >= kMinTwoStreamRows ? (end - first) / 2 : 0) {}
    int64_t size() const { return n1 - n0; }
    // The rows past 2·half (an odd count's last) come at the end.
    int64_t operator[](int64_t i) const { return i < 2 * half ? n0 + (i & 1) * half + i / 2 : n0 + i; }
};

// Decoding one sequence (M = 1), every kernel reads two rows of W side by side: row n0 + i of
// the share's first half with row n0 + h + i of its second, their loads interleaved in one loop,
// so two runs of misses are in flight at every moment. One row after the other (or RowOrder's
// halves in turn) keeps one; a hardware prefetcher that follows one stream then leaves one
// core's reads short of what it can have in flight. GPT-2 small built in memory, `generate`
// 16 + 128 tokens greedy, one process alternating with and without (faster in n of 8):
//   f32   1 thread 62.0 → 70.4 tok/s (8), 2 threads 122 → 131 (8)
//   bf16  1 thread 110 → 140 (8), 2 threads 242 → 278 (8)
//   int8  1 thread 177 → 190 (8), 2 threads 339 → 362 (5)
// (four rows side by side: f32 no faster at one thread, slower at two). The AVX2 bf16 kernel
// has read its rows this way since the fifteenth round. A row's sums are the same operations
// with or without a partner, so the bits do not change.
struct RowPairs {
    int64_t n0, n1, half;
    RowPairs(int64_t first, int64_t end) : n0(first), n1(end), half((end - first) / 2) {}
    // two(a, b) for each pair, then one(n) for an odd count's last row.
    template <class Two, class One>
    void visit(const Two& two, const One& one) const {
        for (int64_t i = 0; i < half; ++i) two(n0 + i, n0 + half + i);
        if (n0 + 2 * half < n1) one(n1 - 1);
    }
};

}  // namespace attend
