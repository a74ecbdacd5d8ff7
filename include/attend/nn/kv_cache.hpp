// nn/kv_cache.hpp — the inference state of a decoder: every layer's keys and values so far,
// per sequence, so a batch of sequences of different lengths decodes together.
//
// Layout. For each layer l, K_l and V_l are (B, Hkv, capacity, Dh) buffers; sequence b owns
// the first lengths()[b] rows of its slice. Keys are stored after RoPE (rotated at their own
// positions), so a cached key is never touched again.
//
// A step. The model runs one forward on x (B, Tq, E) holding the next tokens of every
// sequence:
//
//     cache.begin_step(Tq, n_new);        // n_new[b] ≤ Tq: how many of the Tq rows of
//                                          // sequence b are real tokens (empty: all Tq)
//     ... every layer's self-attention calls cache.append(layer, k_new, v_new) ...
//     cache.end_step();                    // lengths[b] += n_new[b]
//
// During the step, the new token i of sequence b sits at position offset(b) + i, offset(b) =
// lengths()[b] before the step (step_offsets()): RoPE and learned positions use it. Its
// keys and values are written at rows offset(b) .. offset(b) + n_new[b] − 1, and it may see
// keys j with j ≤ offset(b) + i and j < offset(b) + n_new[b] — causal attention aligned per
// sequence. Rows i ≥ n_new[b] are padding: their keys are not stored, their outputs are
// defined (they see the sequence's valid keys) but meaningless. So a prompt batch of lengths
// (7, 4, 2) is one step with Tq = 7 and n_new = (7, 4, 2), and the decoding steps after it
// are Tq = 1 for everyone: each sequence continues at its own length.
//
// Attention runs on the whole buffer (Tk = capacity) with key_lengths = offset + n_new, so
// the fused kernel skips the unused rows without copying the cache; when Tq > 1 a boolean
// (B, 1, Tq, capacity) mask adds the per-sequence causal alignment (AttentionMask's own
// causal flag aligns queries to the end of Tk, which a ragged batch does not have).
//
// Cross-attention (encoder–decoder): the memory's keys and values are projected once, at
// the first step, and kept per layer (cross_k/cross_v); later steps reuse them.
//
// Inference only: the buffers hold values, not autograd history, so no gradient flows into
// cached keys and values (run decoding under NoGradGuard).
//
// Value type. fp32 (the default: the same numbers as a forward pass without a cache), or
// bf16 — each key and value rounded to nearest even as it is stored, as llama.cpp keeps f16
// by default. Half the memory, and half the bytes a decoding step reads over a long context
// (attention reads every cached key and value once per token and layer); the attention
// kernel widens them in registers (attention.hpp, Bf16KeysValues). Rows of a bf16 cache are
// not tensors: k()/v() are for fp32 caches, bf16_keys_values() for bf16 ones.
//
// Implemented in src/nn/kv_cache.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "attend/attention.hpp"
#include "attend/low_precision.hpp"
#include "attend/tensor.hpp"

namespace attend {

class KVCache {
public:
    // Buffers for n_layers layers of `batch` sequences of up to `capacity` tokens each, holding
    // `values` (f32 or bf16; int8 is an Error).
    KVCache(int64_t n_layers, int64_t batch, int64_t n_kv_heads, int64_t head_dim, int64_t capacity,
            WeightType values = WeightType::f32);

    int64_t n_layers() const { return int64_t(appended_.size()); }
    int64_t batch() const { return batch_; }
    int64_t capacity() const { return capacity_; }
    int64_t n_kv_heads() const { return n_kv_heads_; }
    int64_t head_dim() const { return head_dim_; }
    const std::vector<int64_t>& lengths() const { return lengths_; }  // tokens held per sequence
    WeightType value_type() const { return values_; }                  // f32 or bf16

    // ---- the step protocol (see above) ----
    // n_new empty: every sequence gets Tq tokens. Checks that lengths + n_new fit the capacity
    // and that no step is open.
    void begin_step(int64_t Tq, const std::vector<int64_t>& n_new = {});
    bool in_step() const { return in_step_; }
    int64_t step_queries() const { return step_tq_; }                        // Tq
    const std::vector<int64_t>& step_offsets() const { return offsets_; }   // lengths at begin_step
    const std::vector<int64_t>& step_new() const { return n_new_; }         // n_new

    // Store the step's k_new, v_new (B, Hkv, Tq, Dh) of `layer` (rows i < n_new[b] of each
    // sequence) and return what attention needs: the full buffers and the step's mask.
    struct View {
        Tensor k, v;           // (B, Hkv, capacity, Dh): an f32 cache's (undefined for bf16)
        Bf16KeysValues bf16;   // the same, a bf16 cache's (null pointers for f32)
        AttentionMask mask;    // key_lengths = offset + n_new; causal from query_offsets = offset
    };
    View append(int64_t layer, const Tensor& k_new, const Tensor& v_new);

    // Close the step: every layer must have appended once; lengths += n_new.
    void end_step();
    // Abandon an open step (say a forward threw halfway): lengths stay as they were, and
    // whatever was written past them is ignored and overwritten by the next step.
    void cancel_step();

    // The mask append() uses, for a step with offsets and n_new (exposed for tests).
    AttentionMask step_mask() const;

    // ---- cross-attention memory, projected once (encoder–decoder) ----
    bool has_cross(int64_t layer) const;
    void set_cross(int64_t layer, const Tensor& k, const Tensor& v);  // (B, Hkv, S, Dh)
    const Tensor& cross_k(int64_t layer) const;
    const Tensor& cross_v(int64_t layer) const;

    // Forget everything (all lengths 0, cross memory dropped), or just sequence b's tokens
    // (its slot can start a new sequence; cross memory is shared and stays).
    void reset();
    void reset(int64_t b);

    // Row b becomes what row rows[b] was (its keys, values, length and — unless `cross` says
    // keep — cross memory), for every b at once: beam search re-ranking its beams. rows:
    // batch() entries in [0, batch()), repeats allowed (two beams continuing one parent). No
    // step may be open. Moves only the filled positions, in place; allocates nothing after
    // the first call (the cross memory, when moved, goes to fresh tensors).
    enum class CrossMemory { move, keep };  // keep: the caller knows rows[b]'s memory is b's
    void reorder(const std::vector<int64_t>& rows, CrossMemory cross = CrossMemory::move);

    // Sequence b takes sequence from_b of another cache (its keys, values and length; not the
    // cross memory): a prompt prefilled alone joins a decoding batch (serve/scheduler.cpp).
    // Same layers and head sizes; its length must fit this capacity. No step may be open.
    void load_sequence(int64_t b, const KVCache& from, int64_t from_b);

    // A layer's buffers: k(), v() of an f32 cache, bf16_keys_values() of a bf16 one (an
    // Error on the other kind). Each (B, Hkv, capacity, Dh).
    const Tensor& k(int64_t layer) const;
    const Tensor& v(int64_t layer) const;
    Bf16KeysValues bf16_keys_values(int64_t layer) const;

private:
    void check_layer(int64_t layer, const char* what) const;
    AttentionMask build_mask() const;

    // Row (b, h, t) of a (B, Hkv, capacity, Dh) buffer, in values from its start.
    int64_t row_of(int64_t b, int64_t h, int64_t t) const { return ((b * n_kv_heads_ + h) * capacity_ + t) * head_dim_; }

    int64_t batch_, n_kv_heads_, head_dim_, capacity_;
    WeightType values_;
    std::vector<Tensor> k_, v_;                        // f32: per layer (B, Hkv, capacity, Dh)
    std::vector<std::shared_ptr<uint16_t>> k16_, v16_;  // bf16: the same, 64-byte aligned
    std::vector<Tensor> cross_k_, cross_v_;  // per layer (B, Hkv, S, Dh) or undefined
    std::vector<int64_t> lengths_;
    std::vector<unsigned char> reorder_scratch_;  // reorder(): the moved rows, kept across calls
    std::vector<int64_t> reorder_lengths_;        // reorder(): the next lengths_, swapped in
    bool in_step_ = false;
    int64_t step_tq_ = 0;
    std::vector<int64_t> offsets_, n_new_;
    std::vector<bool> appended_;  // per layer, this step
    AttentionMask mask_;          // this step's, built by begin_step
};

}  // namespace attend
