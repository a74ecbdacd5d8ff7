// ops/gemv_row_order.hpp — the order the decoding kernels (ops/gemv.cpp, gemv_dot.cpp and
// their AVX2 forms) read the rows of W in. The results never depend on it: each row's sums are
// the same operations in any order and beside any partner. Internal to src/ops.
#pragma once
#include <cstdint>

namespace attend {

// The order a kernel reads W's rows [n0, n1) in against several rows of x (one row of x: RowPairs,
// below): row i of the sweep is order[i].
//
// One stream (front to back) is what the hardware prefetcher follows best, but an int8 row
// costs ~8 instructions per 64-byte line (bf16: ~3), and a thread reading alone then keeps too
// few lines in flight: the int8 kernel read at ~80% of a plain sum over the same bytes. Two
// streams — the share's two halves in turn, n0, n0 + h, n0 + 1, n0 + h + 1, … — put two
// independent runs of misses in flight. GPT-2 small's int8 products of a token, one thread:
// 4.40 → 4.18, 4.56 → 4.42, 5.90 → 5.36 ms (faster in 11, 11 and 12 of 12 alternations; 4 streams:
// 7.6 ms); `generate` 16 + 128 tokens, int8, one thread: 167 → 190 and 184 → 199 tok/s (10 of
// 10). The AVX2 int8 kernel (called directly on the same machine, the same products): 5.13 →
// 3.96 and 6.52 → 4.93 ms (12 of 12). bf16 (its row prefetch, GCC dropped: gemv_dot.cpp):
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

// Decoding one sequence (M = 1), a kernel may read two rows of W side by side: row n0 + i of the
// share's first half with row n0 + h + i of its second, their loads interleaved in one loop, so
// two runs of misses are in flight at every moment, where one row after the other (or
// RowOrder's halves in turn) keeps one. A row's sums are the same operations with or without a
// partner, so the bits do not change. GPT-2 small built in memory, `generate` 16 + 128 tokens
// greedy, one process alternating pairs with the kernels' earlier order (faster in n of m
// alternations; this VM's speed moved by 2× within the hour, so only alternations count):
//   a thread reading alone (one thread): f32 62.0 → 70.4 (8 of 8), 69.9 → 73.4 (8 of 8), 62.6 →
//     59.3 (2 of 6) tok/s; bf16 98.4 → 111.2 (6 of 6), 67.2 → 87.0 (6 of 6); int8 116.7 →
//     120.1 (5 of 6), 130.2 → 136.1 (5 of 6);
//   two threads: bf16 215.5 → 249.0 (6 of 6), 186.1 → 193.3 (4 of 6), 183.2 → 192.1 (8 of 8);
//     f32 115.6 → 117.9 (5 of 8), 116.6 → 115.3 (1 of 8), 100.1 → 96.1 (0 of 6); int8 303.0 →
//     259.8 (0 of 8), 229.5 → 213.5 (0 of 6), 180.3 → 176.0 (1 of 6).
// Against RowOrder's halves in turn (what bf16 and int8 read alone before), pairs came out
// even: int8 187.0 → 186.4 (5 of 8), 157.4 → 158.2 (5 of 8), bf16 107.8 → 104.7 (4 of 6).
// So a thread reading alone takes pairs, and in a team only bf16 (its loop has the fewest
// instructions per 64 bytes); four rows side by side were no faster than two (f32).
// The AVX2 kernels (ops/gemv_f32_avx2.cpp, gemv_dot_avx2.cpp) take pairs alone and in a team:
// bf16 since the fifteenth round; f32 and int8 since the thirty-third, measured on an AVX2-only
// EPYC (no AVX-512) the same way: f32 one thread 22.8 → 27.5 tok/s (6 of 6), two threads in a
// team 37.6 → 44.9 (6 of 6) and 38.2 → 41.4 (8 of 8); int8 one thread, against RowOrder's halves
// 79.3 → 84.0 (8 of 8) and 86.1 → 90.8 (7 of 8), two threads 122.8 → 128.1 (7 of 8). Since the
// thirty-fourth round the AVX2 f32 and bf16 kernels read four rows (RowQuads, below).
//
// SideBySide<R> is the general form, R rows at a time; RowPairs is SideBySide<2>.
template <int R>
struct SideBySide {
    int64_t n0, n1, part;  // part = 0: one row after the other
    SideBySide(int64_t first, int64_t end, bool side_by_side)
        : n0(first), n1(end), part(side_by_side ? (end - first) / R : 0) {}
    // group(rows) for each group, rows[g] = n0 + g · part + i (row i of each of the share's R
    // parts), then one(n) for each row left (the last R·part .. end, or all).
    template <class Group, class One>
    void visit(const Group& group, const One& one) const {
        for (int64_t i = 0; i < part; ++i) {
            int64_t rows[R];
            for (int g = 0; g < R; ++g) rows[g] = n0 + g * part + i;
            group(rows);
        }
        for (int64_t n = n0 + R * part; n < n1; ++n) one(n);
    }
};
using RowPairs = SideBySide<2>;

// The AVX2 f32 and bf16 kernels (ops/gemv_f32_avx2.cpp, gemv_dot_avx2.cpp) read four rows side
// by side when decoding one sequence: row n0 + i of each quarter of the share, four runs of
// misses in flight, alone and in a team. Four rows of U = 4 accumulators would take all 16
// AVX2 registers, so these kernels keep U = 2 a row (two FMA chains each; eight in flight).
// On the AVX2-only EPYC of the thirty-fourth round (no AVX-512), GPT-2 small built in memory,
// `generate` 16 + 128 tokens greedy, one process alternating with pairs of U = 4 (faster in n of
// m alternations):
//   f32: one thread 29.6 → 34.1 and 32.7 → 36.4 tok/s (6 of 6 both), two threads 39.5 → 43.1
//     (5 of 6);
//   bf16 (its prefetch, gemv_dot_avx2.cpp): one thread 53.7 → 61.6 (12 of 12), 57.8 → 62.9 (7 of
//     8), two threads 82.3 → 86.4 (7 of 10); three accumulators a row came out slower than two
//     (60.8 → 64.4, 7 of 8), eight rows of one each too (67.1 → 63.9, 0 of 8);
//   int8 (four rows, two accumulators): one thread 90.6 → 86.0 (4 of 12), two threads 124.7 →
//     127.4 (5 of 10); with one line prefetched a step 96.4 → 93.3 (5 of 16), 152.0 → 147.1 (6
//     of 12) — so int8 keeps pairs.
// A row's sums are the same operations with or without partners.
using RowQuads = SideBySide<4>;

}  // namespace attend
