// attention/attention.cpp — the one entry point: check the shapes, resolve the mask and the
// scale, and hand the work to one of the two paths (src/attention/paths.hpp).
//
//   Attention(Q, K, V) = softmax(scale · Q Kᵀ + M) V,   scale = 1/√D unless given
//   (with dropout on the weights when options.dropout > 0: attention/dropout.hpp)
//
// The reference path is chosen when asked for, or when the weights are wanted (only it
// builds them); otherwise the fused path, which never materialises Tq × Tk.
#include <algorithm>
#include <cmath>

#include "attend/attention.hpp"
#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/profile.hpp"
#include "attention/mask.hpp"
#include "attention/paths.hpp"

namespace attend {

AttentionOutput attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const AttentionMask& mask,
                          const AttentionOptions& options) {
    // Both paths: the fused one charges its tiles' GEMMs here, the reference one the public
    // ops it is written with (matmul, softmax) to those ops (self time, attend/profile.hpp).
    const ProfileScope op_scope("attention");
    ATTEND_CHECK(q_in.defined() && k_in.defined() && v_in.defined(), "q, k and v must all be defined tensors");
    const auto shapes = [&] {
        return "q " + to_string(q_in.shape()) + ", k " + to_string(k_in.shape()) + ", v " + to_string(v_in.shape());
    };
    ATTEND_CHECK(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4,
                 "q, k and v must be 4-D: q (B, H, Tq, D), k (B, Hkv, Tk, D), v (B, Hkv, Tk, Dv); got ", shapes());
    const int64_t B = q_in.size(0), H = q_in.size(1), Tq = q_in.size(2), D = q_in.size(3);
    const int64_t Hkv = k_in.size(1), Tk = k_in.size(2);
    ATTEND_CHECK(k_in.size(0) == B && v_in.size(0) == B, "q, k and v must have the same batch size B; got ",
                 shapes());
    ATTEND_CHECK(D > 0, "the head dim D must be positive; got ", shapes());
    ATTEND_CHECK(k_in.size(3) == D, "q and k must have the same head dim D; got ", shapes());
    ATTEND_CHECK(v_in.size(2) == Tk, "k and v must have the same number of keys Tk; got ", shapes());
    ATTEND_CHECK(v_in.size(1) == Hkv, "k and v must have the same number of heads Hkv; got ", shapes());
    ATTEND_CHECK(Hkv > 0 && H % Hkv == 0,
                 "the query heads H must be a multiple of the key/value heads Hkv (grouped-query attention); got ",
                 shapes());
    ATTEND_CHECK(std::isfinite(options.scale), "the scale must be finite, got ", options.scale);
    ATTEND_CHECK(options.dropout >= 0.f && options.dropout < 1.f, "attention dropout must be in [0, 1), got ",
                 options.dropout);

    const MaskPlan plan(mask, B, H, Tq, Tk);
    const float scale = options.scale != 0.f ? options.scale : 1.f / std::sqrt(float(D));
    const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();  // recorded: grads flow back

    const AttentionDropout dropout{options.dropout, options.dropout_seed, H, Tq, Tk};
    if (options.return_weights || options.path == AttentionPath::reference)
        return reference_attention(q, k, v, plan, scale, options.return_weights, dropout);
    return {fused_attention(q, k, v, plan, scale, dropout), Tensor()};
}

namespace {

// The keys a call over bf16 keys and values must widen: a KV cache's mask (per-sequence
// key_lengths and query_offsets, no element masks) sees no key past the longest sequence,
// and trimming the buffer there changes no query's key range (both ends are absolute).
// Weights keep all Tk columns, as the fp32 call returns them.
int64_t keys_to_widen(const AttentionMask& mask, const AttentionOptions& options, int64_t Tk) {
    if (options.return_weights || mask.query_offsets.empty() || mask.key_lengths.empty() ||
        mask.bool_mask.defined() || mask.additive_mask.defined())
        return Tk;
    int64_t longest = 1;  // a tensor of at least one key, masked when no sequence has any
    for (int64_t n : mask.key_lengths) longest = std::max(longest, n);
    return std::min(longest, Tk);
}

// Rows [0, keys) of each (b, h) of a (B, Hkv, Tk, width) bf16 array, as fp32 (B, Hkv, keys, width).
Tensor widen(const uint16_t* values, int64_t B, int64_t Hkv, int64_t Tk, int64_t width, int64_t keys) {
    Tensor out = Tensor::empty({B, Hkv, keys, width});
    float* dst = out.data();
    for (int64_t bh = 0; bh < B * Hkv; ++bh) {
        const uint16_t* src = values + bh * Tk * width;
        for (int64_t i = 0; i < keys * width; ++i) dst[i] = from_bf16(src[i]);
        dst += keys * width;
    }
    return out;
}

}  // namespace

AttentionOutput attention(const Tensor& q, const Bf16KeysValues& kv, const AttentionMask& mask,
                          const AttentionOptions& options) {
    ATTEND_CHECK(q.defined() && q.dim() == 4, "q must be a 4-D tensor (B, H, Tq, D), got ",
                 q.defined() ? to_string(q.shape()) : "(undefined)");
    ATTEND_CHECK(kv.k && kv.v, "bf16 keys and values: k and v must both point at values");
    const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3);
    ATTEND_CHECK(kv.batch == B && kv.dim == D && kv.kv_heads > 0 && H % kv.kv_heads == 0 && kv.keys > 0 &&
                     kv.value_dim > 0,
                 "bf16 keys (", kv.batch, ", ", kv.kv_heads, ", ", kv.keys, ", ", kv.dim, ") and values (…, ",
                 kv.value_dim, ") do not fit q ", to_string(q.shape()),
                 ": need the same B and D, H a multiple of the kv heads, positive sizes");
    ATTEND_CHECK(std::isfinite(options.scale), "the scale must be finite, got ", options.scale);
    const bool decoding = options.path == AttentionPath::fused && !options.return_weights &&
                          options.dropout == 0.f && !needs_grad({q});
    if (decoding) {
        const ProfileScope op_scope("attention");
        const MaskPlan plan(mask, B, H, Tq, kv.keys);
        const float scale = options.scale != 0.f ? options.scale : 1.f / std::sqrt(float(D));
        Tensor out = fused_attention_bf16_rows(q, kv, plan, scale);
        if (out.defined()) return {out, Tensor()};
    }
    Tensor k, v;
    {
        const ProfileScope op_scope("kv_cache widen");
        const int64_t keys = keys_to_widen(mask, options, kv.keys);
        k = widen(kv.k, B, kv.kv_heads, kv.keys, kv.dim, keys);
        v = widen(kv.v, B, kv.kv_heads, kv.keys, kv.value_dim, keys);
    }
    return attention(q, k, v, mask, options);
}

// z_i = Σ_j softmax_j(x_i · x_j) x_j: attention with q = k = v = x, one head, scale 1.
// Gradients reach x through all three roles (the tape sums them).
Tensor basic_self_attention(const Tensor& x, int64_t window, Tensor* weights) {
    ATTEND_CHECK(x.defined(), "x must be a defined tensor");
    ATTEND_CHECK(x.dim() == 2 || x.dim() == 3, "x must be (T, D) or (B, T, D), got ", to_string(x.shape()));
    const bool batched = x.dim() == 3;
    const int64_t B = batched ? x.size(0) : 1, T = x.size(-2), D = x.size(-1);
    ATTEND_CHECK(D > 0, "x must have a positive width D, got ", to_string(x.shape()));
    const Tensor x4 = x.reshape({B, 1, T, D});  // (B, 1, T, D): one head

    AttentionMask mask;
    mask.window = window;  // < 0: every token sees every token
    AttentionOptions options;
    options.scale = 1.f;  // the seeds' form is unscaled
    options.path = AttentionPath::reference;
    options.return_weights = weights != nullptr;
    AttentionOutput out = attention(x4, x4, x4, mask, options);

    if (weights) *weights = batched ? out.weights.reshape({B, T, T}) : out.weights.reshape({T, T});
    return out.output.reshape(x.shape());
}

}  // namespace attend
