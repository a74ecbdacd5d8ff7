// attention/attention.cpp — the one entry point: check the shapes, resolve the mask and the
// scale, and hand the work to one of the two paths (src/attention/paths.hpp).
//
//   Attention(Q, K, V) = softmax(scale · Q Kᵀ + M) V,   scale = 1/√D unless given
//   (with dropout on the weights when options.dropout > 0: attention/dropout.hpp)
//
// The reference path is chosen when asked for, or when the weights are wanted (only it
// builds them); otherwise the fused path, which never materialises Tq × Tk.
#include <cmath>

#include "attend/attention.hpp"
#include "attend/error.hpp"
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
