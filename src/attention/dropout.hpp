// attention/dropout.hpp — dropout on the attention weights, decided by a counter, not a stream.
//
//   O = (P ⊙ M / (1 − p)) V,   M_ij = keep(seed, b, h, i, j) ∈ {0, 1},  P(M_ij = 1) = 1 − p
//
// (Vaswani et al. 2017 drop sub-layer outputs; BERT and GPT-2 also drop attention weights:
// HF's attention_probs_dropout_prob / attn_pdrop.) The fused path never holds P, so it cannot
// keep M either: like FlashAttention's Philox offsets (Dao et al. 2022, §3.1), each M_ij is a
// pure function of the seed and the element's place, in two steps so the inner loop is 32-bit
// and vectorises:
//   row key  r = high 32 bits of SplitMix64's finaliser (Steele et al. 2014) of
//                seed + ((b·H + h)·Tq + i) · 0x9E3779B97F4A7C15          (once per query row)
//   M_ij     = [fmix32(r ⊕ j · 0x9E3779B9) ≥ ⌊p · 2³²⌋]                (MurmurHash3's finaliser)
// Forward and backward, fused and reference path, and the PyTorch reference script
// (tests/reference/attention_dropout.py) all draw the same M.
//
// Backward: with P̃ = P ⊙ M/(1−p) and O = P̃ V, dV = P̃ᵀ dO, dP = (dO Vᵀ) ⊙ M/(1−p),
// dS = P ⊙ (dP − Δ) with Δ_i = Σ_j P_ij dP_ij = Σ_d dO_id O_id — the same Δ as without dropout.
// Internal to src/attention.
#pragma once
#include <cstdint>

namespace attend {

struct AttentionDropout {
    float p = 0.f;       // probability of dropping a weight; 0: off
    uint64_t seed = 0;
    int64_t H = 0, Tq = 0, Tk = 0;  // for the row index

    bool active() const { return p > 0.f; }

    // row[j] ← row[j] · M_ij / (1 − p) for keys k0 .. k0 + n − 1 of query row i of (b, h).
    void apply(float* row, int64_t n, int64_t b, int64_t h, int64_t i, int64_t k0) const;
};

}  // namespace attend
