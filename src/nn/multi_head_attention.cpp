// nn/multi_head_attention.cpp — projections, head split, attention, head merge, output
// projection. Every step is an existing differentiable op (linear, views, attention), so
// the backward pass is the tape's: no hand-written gradient lives here.
//
//   Q = split_heads(q_proj(query), H)       (B, Tq, H·Dh) -> (B, H, Tq, Dh)
//   K = split_heads(k_proj(key), Hkv)       (B, Tk, Hkv·Dh) -> (B, Hkv, Tk, Dh)   (V likewise)
//   O = attention(Q, K, V, mask)            (B, H, Tq, Dh)
//   y = out_proj(merge_heads(O))            (B, Tq, H·Dh) -> (B, Tq, E)
//
// Copies: split_heads lays the heads out contiguously, which the rotary step, the attention
// kernel and the KV cache would each otherwise do on their own input (they take contiguous
// tensors); with one token per sequence (decoding) it is a view and nothing is copied.
#include "attend/nn/multi_head_attention.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"

namespace attend {

namespace {

// A projection whose values the caller drew: a Linear holding them, as leaf parameters.
Linear projection(Tensor weight, Tensor bias) {
    Linear l;
    l.weight = std::move(weight);
    l.weight.requires_grad_(true);
    if (bias.defined()) l.bias = std::move(bias), l.bias.requires_grad_(true);
    return l;
}

// Copy `source` into the parameter `target` in place (so references to it stay valid).
void assign(Tensor& target, const Tensor& source, const char* what) {
    ATTEND_CHECK(source.defined(), what, " is missing; expected shape ", to_string(target.shape()));
    ATTEND_CHECK(source.shape() == target.shape(), what, " has shape ", to_string(source.shape()), ", expected ",
                 to_string(target.shape()));
    NoGradGuard no_grad;
    const Tensor s = source.contiguous();
    std::copy_n(s.data(), s.numel(), target.data());
}

// Biases follow config.bias (all four) and config.qkv_bias (q, k, v): an unexpected or a
// missing one is an error.
void check_bias_presence(bool has_in_bias, bool has_out_bias, const Tensor& in_bias, const Tensor& out_bias) {
    ATTEND_CHECK(in_bias.defined() == has_in_bias && out_bias.defined() == has_out_bias,
                 "this MultiHeadAttention was built with ", has_in_bias ? "" : "no ", "in-projection biases and ",
                 has_out_bias ? "an" : "no", " out-projection bias, but in_proj_bias is ",
                 in_bias.defined() ? "given" : "missing", " and out_proj_bias is ",
                 out_bias.defined() ? "given" : "missing");
}

}  // namespace

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionConfig& config, ParameterInit init) : config_(config) {
    auto& c = config_;
    ATTEND_CHECK(c.embed_dim > 0 && c.n_heads > 0, "embed_dim and n_heads must be positive, got embed_dim=",
                 c.embed_dim, " n_heads=", c.n_heads);
    ATTEND_CHECK(c.head_dim >= 0, "head_dim must be ≥ 0 (0 means embed_dim/n_heads), got ", c.head_dim);
    ATTEND_CHECK(c.head_dim > 0 || c.embed_dim % c.n_heads == 0, "embed_dim=", c.embed_dim,
                 " is not divisible by n_heads=", c.n_heads);
    ATTEND_CHECK(!c.qkv_bias || !c.bias, "qkv_bias is for attention without `bias` (bias=true has every bias already)");
    ATTEND_CHECK(c.sliding_window >= 0, "sliding_window must be ≥ 0 (0 means none), got ", c.sliding_window);
    if (c.head_dim == 0) c.head_dim = c.embed_dim / c.n_heads;
    if (c.n_kv_heads == 0) c.n_kv_heads = c.n_heads;
    if (c.kdim == 0) c.kdim = c.embed_dim;
    if (c.vdim == 0) c.vdim = c.embed_dim;
    ATTEND_CHECK(c.n_kv_heads > 0 && c.n_heads % c.n_kv_heads == 0, "n_heads=", c.n_heads,
                 " is not a multiple of n_kv_heads=", c.n_kv_heads);
    ATTEND_CHECK(c.kdim > 0 && c.vdim > 0, "kdim and vdim must be positive, got kdim=", c.kdim, " vdim=", c.vdim);
    ATTEND_CHECK(c.dropout >= 0.f && c.dropout < 1.f, "attention dropout must be in [0, 1), got ", c.dropout);

    const int64_t E = c.embed_dim, A = query_width(), kv = c.n_kv_heads * head_dim();
    // Xavier/Glorot uniform: U(−a, a), a = √(6 / (fan_in + fan_out)). torch packs the three
    // in-projections into one (3E, E) matrix when key and value are E wide and initialises
    // it as one; we follow, so both libraries draw from the same distribution.
    auto xavier_bound = [](int64_t fan_in, int64_t fan_out) { return std::sqrt(6.f / float(fan_in + fan_out)); };
    // Drawn in torch's order (W_q, W_k, W_v, W_o), so a seeded module matches torch's.
    const bool packed = c.kdim == E && c.vdim == E;
    const float aq = packed ? xavier_bound(E, A + 2 * kv) : xavier_bound(E, A);
    const float ak = packed ? aq : xavier_bound(c.kdim, kv), av = packed ? aq : xavier_bound(c.vdim, kv);
    Tensor w_q = init.uniform({A, E}, -aq, aq);
    Tensor w_k = init.uniform({kv, c.kdim}, -ak, ak);
    Tensor w_v = init.uniform({kv, c.vdim}, -av, av);
    // nn.Linear's default, kaiming_uniform(a=√5): U(−1/√fan_in, 1/√fan_in).
    const float ao = 1.f / std::sqrt(float(A));
    Tensor w_o = init.uniform({E, A}, -ao, ao);
    const bool in_bias = c.bias || c.qkv_bias;  // zero, as torch's in_proj_bias and out_proj.bias
    q_proj = projection(std::move(w_q), in_bias ? Tensor::zeros({A}) : Tensor());
    k_proj = projection(std::move(w_k), in_bias ? Tensor::zeros({kv}) : Tensor());
    v_proj = projection(std::move(w_v), in_bias ? Tensor::zeros({kv}) : Tensor());
    out_proj = projection(std::move(w_o), c.bias ? Tensor::zeros({E}) : Tensor());
}

namespace {

// With a cache the mask is the cache's; the caller may still say "causal" (it is implied).
bool only_causal(const AttentionMask& m) {
    return m.window < 0 && m.key_lengths.empty() && m.query_offsets.empty() && !m.bool_mask.defined() &&
           !m.additive_mask.defined();
}

}  // namespace

// Attention over heads and the output projection: O = attention(q, k, v) (B, H, Tq, Dh),
// y = out_proj(merge_heads(O)) (B, Tq, E).
// Dropout on the weights (torch.nn.MultiheadAttention's `dropout`) only in training, as
// apply_dropout: each call draws a fresh seed from the mode's generator for
// attention/dropout.hpp's mask.
AttentionOptions MultiHeadAttention::attention_options(const ForwardMode& mode, bool want_weights) const {
    AttentionOptions options;
    options.path = mode.attention_path;
    options.return_weights = want_weights;
    if (mode.training && config_.dropout > 0.f) {
        ATTEND_CHECK(mode.generator != nullptr, "attention dropout with p=", config_.dropout,
                     " in training needs a generator (ForwardMode::generator)");
        options.dropout = config_.dropout;
        options.dropout_seed = mode.generator->next_u64();
    }
    return options;
}

Tensor MultiHeadAttention::project(const AttentionOutput& heads, Tensor* weights) const {
    if (weights) *weights = heads.weights;               // (B, H, Tq, Tk)
    return out_proj.forward(merge_heads(heads.output));  // (B, Tq, E)
}

Tensor MultiHeadAttention::attend_and_project(const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionMask& mask, const ForwardMode& mode,
                                              Tensor* weights) const {
    return project(attention(q, k, v, mask, attention_options(mode, weights != nullptr)), weights);  // (B, H, Tq, Dh)
}

Tensor MultiHeadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const AttentionMask& mask, const ForwardMode& mode, Tensor* weights) const {
    const auto& c = config_;
    ATTEND_CHECK(query.dim() == 3 && query.size(2) == c.embed_dim, "query must be (B, Tq, E=", c.embed_dim,
                 "), got ", to_string(query.shape()));
    ATTEND_CHECK(key.dim() == 3 && key.size(2) == c.kdim, "key must be (B, Tk, kdim=", c.kdim, "), got ",
                 to_string(key.shape()));
    ATTEND_CHECK(value.dim() == 3 && value.size(2) == c.vdim, "value must be (B, Tk, vdim=", c.vdim, "), got ",
                 to_string(value.shape()));
    ATTEND_CHECK(key.size(0) == query.size(0) && value.size(0) == query.size(0) && key.size(1) == value.size(1),
                 "query ", to_string(query.shape()), ", key ", to_string(key.shape()), " and value ",
                 to_string(value.shape()), " must share B, and key and value must share Tk");

    Tensor q = split_heads(q_proj.forward(query), c.n_heads);           // (B, H, Tq, Dh)
    Tensor k = split_heads(k_proj.forward(key), c.n_kv_heads);          // (B, Hkv, Tk, Dh)
    const Tensor v = split_heads(v_proj.forward(value), c.n_kv_heads);  // (B, Hkv, Tk, Dh)
    if (rotary_) q = rotary_->forward(q), k = rotary_->forward(k);      // positions from 0
    return attend_and_project(q, k, v, mask, mode, weights);
}

Tensor MultiHeadAttention::forward(const Tensor& x, const AttentionMask& mask, const ForwardMode& mode,
                                   Tensor* weights) const {
    SelfAttentionArgs args;
    args.weights = weights;
    return self_attention(x, mask, args, mode);
}

Tensor MultiHeadAttention::self_attention(const Tensor& x, const AttentionMask& mask, const SelfAttentionArgs& args,
                                          const ForwardMode& mode) const {
    const auto& c = config_;
    ATTEND_CHECK(c.kdim == c.embed_dim && c.vdim == c.embed_dim,
                 "self-attention needs kdim == vdim == embed_dim, this module has embed_dim=", c.embed_dim,
                 " kdim=", c.kdim, " vdim=", c.vdim, "; call forward(query, key, value)");
    ATTEND_CHECK(x.defined() && x.dim() == 3 && x.size(2) == c.embed_dim, "x must be (B, T, E=", c.embed_dim,
                 "), got ", x.defined() ? to_string(x.shape()) : "(undefined)");
    KVCache* cache = args.cache;
    if (cache) {
        ATTEND_CHECK(cache->in_step(), "self-attention with a KV cache needs an open step (KVCache::begin_step)");
        ATTEND_CHECK(x.size(0) == cache->batch() && x.size(1) == cache->step_queries(), "x ", to_string(x.shape()),
                     " does not match the cache step: batch ", cache->batch(), ", ", cache->step_queries(),
                     " new tokens");
        ATTEND_CHECK(cache->n_kv_heads() == c.n_kv_heads && cache->head_dim() == head_dim(), "the cache holds ",
                     cache->n_kv_heads(), " key/value heads of ", cache->head_dim(), ", this attention has ",
                     c.n_kv_heads, " of ", head_dim());
        ATTEND_CHECK(only_causal(mask),
                     "with a KV cache the self-attention mask comes from the cache (per-sequence lengths, causal); "
                     "pass an empty mask or only causal, got key_lengths/window/bool/additive parts");
    }

    const auto qkv = Linear::forward_each<3>(x, {&q_proj, &k_proj, &v_proj});
    Tensor q = split_heads(qkv[0], c.n_heads);     // (B, H, T, Dh)
    Tensor k = split_heads(qkv[1], c.n_kv_heads);  // (B, Hkv, T, Dh)
    Tensor v = split_heads(qkv[2], c.n_kv_heads);  // (B, Hkv, T, Dh)
    if (rotary_) {
        // Token t of sequence b sits at offset(b) + t: given, or where the cache's sequence ends.
        const std::vector<int64_t>& offsets =
            !args.position_offsets.empty() || !cache ? args.position_offsets : cache->step_offsets();
        q = rotary_->forward(q, offsets);
        k = rotary_->forward(k, offsets);
    }
    if (!cache) return attend_and_project(q, k, v, windowed(mask), mode, args.weights);

    // Decoding: store this step's keys and values, attend over all the sequence holds (the
    // window, if any, masks the keys that slid out: the cache keeps them, unread).
    const KVCache::View view = cache->append(args.layer, k, v);  // (B, Hkv, capacity, Dh)
    if (view.k.defined()) return attend_and_project(q, view.k, view.v, windowed(view.mask), mode, args.weights);
    const AttentionOptions options = attention_options(mode, args.weights != nullptr);
    return project(attention(q, view.bf16, windowed(view.mask), options), args.weights);  // a bf16 cache
}

Tensor MultiHeadAttention::cross_attention(const Tensor& query, const Tensor& memory, const AttentionMask& mask,
                                           const CrossAttentionArgs& args, const ForwardMode& mode) const {
    const auto& c = config_;
    KVCache* cache = args.cache;
    const int64_t layer = args.layer;
    ATTEND_CHECK(query.defined() && query.dim() == 3 && query.size(2) == c.embed_dim, "query must be (B, Tq, E=",
                 c.embed_dim, "), got ", query.defined() ? to_string(query.shape()) : "(undefined)");
    ATTEND_CHECK(c.kdim == c.vdim, "cross_attention reads key and value from one memory, so kdim (", c.kdim,
                 ") must equal vdim (", c.vdim, "); call forward(query, key, value)");
    const Tensor q = split_heads(q_proj.forward(query), c.n_heads);  // (B, H, Tq, Dh)
    Tensor k, v;                                                     // (B, Hkv, S, Dh)
    if (cache && cache->has_cross(layer)) {
        k = cache->cross_k(layer), v = cache->cross_v(layer);  // projected at the first step
    } else {
        ATTEND_CHECK(memory.defined() && memory.dim() == 3 && memory.size(2) == c.kdim &&
                         memory.size(0) == query.size(0),
                     "memory must be (B=", query.size(0), ", S, kdim=", c.kdim, "), got ",
                     memory.defined() ? to_string(memory.shape()) : "(undefined)");
        k = split_heads(k_proj.forward(memory), c.n_kv_heads);
        v = split_heads(v_proj.forward(memory), c.n_kv_heads);
        if (cache) cache->set_cross(layer, k, v);
    }
    return attend_and_project(q, k, v, mask, mode, args.weights);
}

void MultiHeadAttention::set_rotary(float theta, RopeLayout layout, int64_t max_positions,
                                    const RopeScaling& scaling) {
    ATTEND_CHECK(head_dim() % 2 == 0, "RoPE needs an even head dim, this attention has ", head_dim());
    rotary_ = std::make_shared<const RotaryEmbedding>(head_dim(), theta, layout, max_positions, scaling);
}

// The self-attention mask with the sliding window added: query at position p sees keys
// j ∈ [p − (W − 1), p], so AttentionMask::window = W − 1 (it bounds |p − j|; causal bounds
// the other side). A tighter window already in the mask stays.
AttentionMask MultiHeadAttention::windowed(const AttentionMask& mask) const {
    if (config_.sliding_window <= 0) return mask;
    AttentionMask m = mask;
    const int64_t w = config_.sliding_window - 1;
    m.window = m.window < 0 ? w : std::min(m.window, w);
    return m;
}

void MultiHeadAttention::collect_parameters(const std::string& prefix, NamedParameters& out) {
    q_proj.collect_parameters(join_name(prefix, "q_proj"), out);
    k_proj.collect_parameters(join_name(prefix, "k_proj"), out);
    v_proj.collect_parameters(join_name(prefix, "v_proj"), out);
    out_proj.collect_parameters(join_name(prefix, "out_proj"), out);
}

void MultiHeadAttention::load_torch_packed(const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                           const Tensor& out_proj_weight, const Tensor& out_proj_bias) {
    const auto& c = config_;
    const int64_t E = c.embed_dim, A = query_width(), kv = c.n_kv_heads * head_dim(), rows = A + 2 * kv;
    ATTEND_CHECK(c.kdim == E && c.vdim == E, "in_proj_weight packs W_q, W_k, W_v only when kdim == vdim == embed_dim",
                 " (this module has embed_dim=", E, " kdim=", c.kdim, " vdim=", c.vdim,
                 "); use load_torch_separate");
    ATTEND_CHECK(in_proj_weight.defined() && in_proj_weight.shape() == Shape({rows, E}), "in_proj_weight has shape ",
                 in_proj_weight.defined() ? to_string(in_proj_weight.shape()) : "(undefined)", ", expected ",
                 to_string({rows, E}));
    // Rows [0, A) are W_q, [A, A+kv) W_k, [A+kv, rows) W_v: the separate form's three matrices.
    load_torch_separate(in_proj_weight.slice(0, 0, A), in_proj_weight.slice(0, A, A + kv),
                        in_proj_weight.slice(0, A + kv, rows), in_proj_bias, out_proj_weight, out_proj_bias);
}

void MultiHeadAttention::load_torch_separate(const Tensor& q_proj_weight, const Tensor& k_proj_weight,
                                             const Tensor& v_proj_weight, const Tensor& in_proj_bias,
                                             const Tensor& out_proj_weight, const Tensor& out_proj_bias) {
    const auto& c = config_;
    const int64_t A = query_width(), kv = c.n_kv_heads * head_dim(), rows = A + 2 * kv;
    auto check = [](const Tensor& t, const Tensor& like, const char* what) {
        ATTEND_CHECK(t.defined() && t.shape() == like.shape(), what, " has shape ",
                     t.defined() ? to_string(t.shape()) : "(undefined)", ", expected ", to_string(like.shape()));
    };
    check(q_proj_weight, q_proj.weight, "q_proj_weight");
    check(k_proj_weight, k_proj.weight, "k_proj_weight");
    check(v_proj_weight, v_proj.weight, "v_proj_weight");
    check(out_proj_weight, out_proj.weight, "out_proj_weight");
    const bool in_bias = q_proj.bias.defined();
    check_bias_presence(in_bias, c.bias, in_proj_bias, out_proj_bias);
    if (in_bias)
        ATTEND_CHECK(in_proj_bias.shape() == Shape({rows}), "in_proj_bias has shape ",
                     to_string(in_proj_bias.shape()), ", expected ", to_string({rows}));
    if (c.bias) check(out_proj_bias, out_proj.bias, "out_proj_bias");

    NoGradGuard no_grad;
    assign(q_proj.weight, q_proj_weight, "q_proj_weight");
    assign(k_proj.weight, k_proj_weight, "k_proj_weight");
    assign(v_proj.weight, v_proj_weight, "v_proj_weight");
    assign(out_proj.weight, out_proj_weight, "out_proj_weight");
    if (in_bias) {
        assign(q_proj.bias, in_proj_bias.slice(0, 0, A), "in_proj_bias[0:A]");
        assign(k_proj.bias, in_proj_bias.slice(0, A, A + kv), "in_proj_bias[A:A+kv]");
        assign(v_proj.bias, in_proj_bias.slice(0, A + kv, rows), "in_proj_bias[A+kv:]");
    }
    if (c.bias) assign(out_proj.bias, out_proj_bias, "out_proj_bias");
}

}  // namespace attend
