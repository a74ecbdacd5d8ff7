// nn/positions.hpp — where a token sits: the three schemes a BlockConfig can ask for.
//
//   sinusoidal (Vaswani et al. 2017, §3.5), a fixed table added to the embeddings:
//       PE(pos, 2i)   = sin(pos / 10000^{2i/d})
//       PE(pos, 2i+1) = cos(pos / 10000^{2i/d})
//   learned (BERT, GPT-2): a trained Embedding of positions, added to the embeddings.
//   RoPE (Su et al. 2021, RoFormer): q and k of every head are rotated, pair by pair, by an
//   angle proportional to the position, so q·k depends on the positions only through their
//   difference. Pair i (of D/2) turns at frequency θ^{−2i/D}:
//       (a, b) -> (a cos φ − b sin φ,  a sin φ + b cos φ),   φ = pos · θ^{−2i/D}
//   Two layouts say which coordinates form pair i:
//       interleaved  (2i, 2i+1)     llama2.c, Meta's Llama
//       rotate_half  (i, i + D/2)   Hugging Face (rotate_half)
//   The backward of a rotation is the rotation by −φ.
//
// Positions per sequence: token t of sequence b sits at position offsets[b] + t (offsets
// empty means all zero). With a KV cache each sequence of a batch has its own length, so
// new tokens of sequence b start at that length.
//
// Implemented in src/nn/positions.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attend/nn/block_config.hpp"
#include "attend/nn/init.hpp"
#include "attend/nn/layers.hpp"
#include "attend/nn/module.hpp"
#include "attend/tensor.hpp"

namespace attend {

// (B·T) position ids, row-major: id(b, t) = offsets[b] + t (offsets empty: t). offsets, when
// given, must have B entries, each ≥ 0.
// lengths (optional, one per sequence): rows t ≥ lengths[b] are padding, whose outputs are
// never used; they get position offsets[b], so a padded row never asks for a position past
// the table (a short sequence batched with a long one at a large offset, in a KV-cache step).
Int64List position_ids(int64_t B, int64_t T, const std::vector<int64_t>& offsets = {},
                                  const std::vector<int64_t>& lengths = {});

// The sinusoidal table (n_positions, dim), computed in double and rounded once. For odd dim
// the last column is the sin of the last pair.
Tensor sinusoidal_table(int64_t n_positions, int64_t dim, double base = 10000.0);

// Sinusoidal positions as a module without parameters: forward(B, T, offsets) -> (B, T, dim),
// rows of the fixed table (a constant: no gradient).
class SinusoidalPositions {
public:
    SinusoidalPositions() = default;
    SinusoidalPositions(int64_t max_positions, int64_t dim);

    // A position ≥ max_positions is an Error naming it.
    Tensor forward(int64_t B, int64_t T, const std::vector<int64_t>& offsets = {},
                   const std::vector<int64_t>& lengths = {}) const;
    void collect_parameters(const std::string&, NamedParameters&) {}  // none

    Tensor table;  // (max_positions, dim), requires_grad false
};

// Learned positions: an Embedding (max_positions, dim) indexed by position_ids.
class LearnedPositions {
public:
    LearnedPositions() = default;
    // nn.Embedding's N(0, 1) unless stddev is given (GPT-2 and BERT use 0.02; their init
    // code overwrites it anyway).
    LearnedPositions(int64_t max_positions, int64_t dim, ParameterInit init, float stddev = 1.f);

    Tensor forward(int64_t B, int64_t T, const std::vector<int64_t>& offsets = {},
                   const std::vector<int64_t>& lengths = {}) const;  // (B, T, dim); lengths: position_ids
    void collect_parameters(const std::string& prefix, NamedParameters& out);  // weight

    Embedding embedding;
};

// RoPE on x (B, H, T, D), D even: token t of sequence b at position offsets[b] + t
// (offsets empty: t). Differentiable in x (backward: rotation by −φ). Angles are computed in
// double from the integer position and rounded once, so long positions stay exact.
Tensor apply_rope(const Tensor& x, float theta, RopeLayout layout, const std::vector<int64_t>& offsets = {});

// RoPE at explicit positions: positions has B·T entries (row-major (B, T)), each ≥ 0.
Tensor apply_rope_at(const Tensor& x, const Int64List& positions, float theta, RopeLayout layout);

// RoPE with the cos/sin tables precomputed once for positions [0, min(max_positions,
// kMaxCachedPositions)); a later position is computed on the spot (the tables are a cache,
// not a limit). Same results as apply_rope, bit for bit; what a MultiHeadAttention keeps to
// rotate q and k. `scaling` changes the frequencies (nn/block_config.hpp, RopeScaling):
// linear and llama3 once for all positions; longrope picks its short or long factors per
// call and sequence: long when any of the sequence's positions in the call is ≥
// original_max_position_embeddings (HF: max(position_ids) + 1 > L), so a KV cache's keys
// keep the factors they were rotated with, as in Hugging Face's generate.
class RotaryEmbedding {
public:
    static constexpr int64_t kMaxCachedPositions = 4096;  // 4096 · D/2 · 8 bytes per layer at most

    RotaryEmbedding(int64_t head_dim, float theta, RopeLayout layout, int64_t max_positions = 0,
                    const RopeScaling& scaling = {});

    Tensor forward(const Tensor& x, const std::vector<int64_t>& offsets = {}) const;      // x (B, H, T, D)
    Tensor forward_at(const Tensor& x, const Int64List& positions) const;      // positions (B·T)

    int64_t head_dim() const { return head_dim_; }
    float theta() const { return theta_; }
    RopeLayout layout() const { return layout_; }

private:
    int64_t head_dim_;
    float theta_;
    RopeLayout layout_;
    int64_t n_cached_;
    std::vector<double> omega_;       // (D/2) frequencies (longrope: the short ones)
    std::vector<double> long_omega_;  // longrope's long frequencies; empty otherwise
    int64_t long_after_ = 0;          // longrope: original_max_position_embeddings; 0: never long
    double scale_ = 1.0;              // longrope's attention_factor on cos and sin
    std::vector<float> cos_, sin_;    // (n_cached, D/2): cos/sin(pos · ω_i) · scale
};

}  // namespace attend
