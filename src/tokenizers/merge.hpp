// tokenizers/merge.hpp — the BPE merge loop both BPE tokenizers share.
//
// Start from a row of symbols (token ids); repeatedly merge the adjacent pair with the highest
// priority into one symbol, the leftmost pair first among equals, until no adjacent pair can
// merge. GPT-2 ranks its merges (priority = -rank); SentencePiece scores its pieces (priority =
// score of the merged piece). This is OpenAI's encoder.py loop and llama2.c's encode loop,
// done with a heap over a linked list so that a long word costs O(n log n), not O(n²).
#pragma once
#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace attend::tokenizers {

struct Merge {
    double priority;  // higher merges first
    int32_t merged;   // the id of the merged symbol
};

// pair(left_id, right_id) → std::optional<Merge>. Merges ids in place.
template <class PairFn>
void merge_symbols(std::vector<int32_t>& ids, PairFn&& pair) {
    const int32_t n = int32_t(ids.size());
    if (n < 2) return;
    std::vector<int32_t> prev(n), next(n);
    for (int32_t i = 0; i < n; ++i) {
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }
    struct Candidate {
        double priority;
        int32_t left_pos, right_pos, left_id, right_id, merged;
    };
    // Top of the heap: highest priority, then the leftmost. Positions are where the left
    // symbol started, which keeps left-to-right order as symbols merge.
    const auto lower = [](const Candidate& a, const Candidate& b) {
        return a.priority < b.priority || (a.priority == b.priority && a.left_pos > b.left_pos);
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower)> heap(lower);
    const auto consider = [&](int32_t l, int32_t r) {
        if (l < 0 || r < 0) return;
        if (const std::optional<Merge> m = pair(ids[l], ids[r]))
            heap.push({m->priority, l, r, ids[l], ids[r], m->merged});
    };
    for (int32_t i = 0; i + 1 < n; ++i) consider(i, i + 1);

    std::vector<bool> alive(n, true);
    while (!heap.empty()) {
        const Candidate c = heap.top();
        heap.pop();
        // Stale when either side has merged since: a symbol's text only grows, so its id never
        // returns to an old value, and comparing ids and adjacency is enough.
        if (!alive[c.left_pos] || !alive[c.right_pos] || next[c.left_pos] != c.right_pos ||
            ids[c.left_pos] != c.left_id || ids[c.right_pos] != c.right_id)
            continue;
        ids[c.left_pos] = c.merged;
        alive[c.right_pos] = false;
        next[c.left_pos] = next[c.right_pos];
        if (next[c.right_pos] >= 0) prev[next[c.right_pos]] = c.left_pos;
        consider(prev[c.left_pos], c.left_pos);
        consider(c.left_pos, next[c.left_pos]);
    }
    int32_t out = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) ids[out++] = ids[i];
    ids.resize(out);
}

}  // namespace attend::tokenizers
