// attention/reference.cpp — scaled dot-product attention exactly as written on paper, the
// oracle the fused path is held to. It materialises the (Tq × Tk) weights per head, so its
// memory is O(B·H·Tq·Tk): that is the point (viz reads the weights), not a defect.
//
// Per batch b and query head h (key/value head g = h / (H / Hkv), grouped-query attention):
//
//   S = scale · Q Kᵀ + bias                       (Tq, Tk)   bias: additive mask, −inf where masked
//   P_ij = exp(S_ij − m_i) / Σ_j' exp(S_ij' − m_i) over j in key_range(b, i), 0 outside;
//          m_i = max_j S_ij; a row with no visible key (or only −inf scores) is all 0
//   O = P V                                       (Tq, Dv)   (P̃ V under dropout, attention/dropout.hpp)
//
// Backward, given dO (Tq, Dv):
//
//   dV_g += Pᵀ dO                                 (Tk, Dv)   summed over the heads of group g
//   dP    = dO Vᵀ                                 (Tq, Tk)
//   dS    = P ⊙ (dP − rowsum(dP ⊙ P))             (Tq, Tk)   softmax's Jacobian; 0 where P = 0
//   dQ    = scale · dS K                          (Tq, D)
//   dK_g += scale · dSᵀ Q                         (Tk, D)
//
// A fully masked row has P = 0, hence O = 0 and dS = 0: zero output, zero gradient.
#include <cmath>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/parallel.hpp"
#include "attention/paths.hpp"
#include "ops/gemm.hpp"

namespace attend {

namespace {

struct Dims {
    int64_t B, H, Hkv, Tq, Tk, D, Dv;
    int64_t group() const { return H / Hkv; }  // query heads per key/value head
    // Threads take one (b, h) each: parallel.hpp's rule, the multiply-adds of the score and
    // value products counted in units of 16 as the fused path counts them.
    bool worth_threads() const { return worth_threading(B * H * Tq * Tk * (D + Dv) / 16, B * H); }
};

// Row i of S (holding scale·QKᵀ) becomes row i of P, in place.
void masked_softmax_row(float* row, int64_t Tk, const MaskPlan& mask, int64_t b, int64_t h, int64_t i) {
    const KeyRange r = mask.key_range(b, i);
    if (r.empty()) {
        std::fill_n(row, Tk, 0.f);
        return;
    }
    if (mask.has_elementwise())
        for (int64_t j = r.begin; j < r.end; ++j) row[j] += mask.bias(b, h, i, j);
    float m = -INFINITY;
    for (int64_t j = r.begin; j < r.end; ++j) m = std::max(m, row[j]);
    std::fill(row, row + r.begin, 0.f);
    std::fill(row + r.end, row + Tk, 0.f);
    if (m == -INFINITY) {  // every visible key masked by the boolean / additive mask
        std::fill(row + r.begin, row + r.end, 0.f);
        return;
    }
    double sum = 0;  // the oracle sums in double
    for (int64_t j = r.begin; j < r.end; ++j) {
        row[j] = std::exp(row[j] - m);  // ≤ 1: subtracting the max keeps ±1e4 scores finite
        sum += row[j];
    }
    const float inv = float(1.0 / sum);  // sum ≥ 1 (the max contributes exp(0))
    for (int64_t j = r.begin; j < r.end; ++j) row[j] *= inv;
}

// P̃ = P ⊙ M/(1 − p) for one (b, h): P (Tq, Tk) → a new (Tq, Tk).
std::vector<float> dropped_weights(const float* P, const Dims& d, const AttentionDropout& dropout, int64_t b,
                                   int64_t h) {
    std::vector<float> out(P, P + d.Tq * d.Tk);
    for (int64_t i = 0; i < d.Tq; ++i) dropout.apply(out.data() + i * d.Tk, d.Tk, b, h, i, 0);
    return out;
}

}  // namespace

AttentionOutput reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, const MaskPlan& mask,
                                    float scale, bool return_weights, const AttentionDropout& dropout) {
    const Dims d{q.size(0), q.size(1), k.size(1), q.size(2), k.size(2), q.size(3), v.size(3)};
    Tensor P = Tensor::empty({d.B, d.H, d.Tq, d.Tk});  // the weights, kept for backward
    Tensor O = Tensor::empty({d.B, d.H, d.Tq, d.Dv});
    const float *pq = q.data(), *pk = k.data(), *pv = v.data();
    float *pp = P.data(), *po = O.data();

    // One (b, h) per iteration; sgemm called inside an OpenMP region runs on this thread.
#pragma omp parallel for schedule(dynamic) if (d.worth_threads())
    for (int64_t bh = 0; bh < d.B * d.H; ++bh) {
        const int64_t b = bh / d.H, h = bh % d.H, kv = b * d.Hkv + h / d.group();
        const float* Q = pq + bh * d.Tq * d.D;   // (Tq, D)
        const float* K = pk + kv * d.Tk * d.D;   // (Tk, D)
        const float* V = pv + kv * d.Tk * d.Dv;  // (Tk, Dv)
        float* S = pp + bh * d.Tq * d.Tk;        // (Tq, Tk): S, then P in place
        sgemm(false, true, d.Tq, d.Tk, d.D, scale, Q, d.D, K, d.D, 0.f, S, d.Tk);
        for (int64_t i = 0; i < d.Tq; ++i) masked_softmax_row(S + i * d.Tk, d.Tk, mask, b, h, i);
        const std::vector<float> dropped = dropout.active() ? dropped_weights(S, d, dropout, b, h) : std::vector<float>();
        sgemm(false, false, d.Tq, d.Dv, d.Tk, 1.f, dropout.active() ? dropped.data() : S, d.Tk, V, d.Dv, 0.f,
              po + bh * d.Tq * d.Dv, d.Dv);  // O = P V, or P̃ V with P̃ = P ⊙ M/(1 − p)
    }

    Tensor out = record(O, "attention_reference", {q, k, v},
                        [q = q.detach(), k = k.detach(), v = v.detach(), P = P.detach(), d, scale, dropout](const Tensor& g) {
        const Tensor dO = g.contiguous();  // (B, H, Tq, Dv)
        Tensor dQ = Tensor::empty({d.B, d.H, d.Tq, d.D});
        // Each query head writes its own dK, dV; with groups they are summed afterwards, so no
        // two threads ever write the same memory.
        const bool grouped = d.group() > 1;
        Tensor dK = Tensor::empty({d.B, grouped ? d.H : d.Hkv, d.Tk, d.D});
        Tensor dV = Tensor::empty({d.B, grouped ? d.H : d.Hkv, d.Tk, d.Dv});
        const float *pq = q.data(), *pk = k.data(), *pv = v.data(), *pp = P.data(), *pdo = dO.data();
        float *pdq = dQ.data(), *pdk = dK.data(), *pdv = dV.data();

#pragma omp parallel for schedule(dynamic) if (d.worth_threads())
        for (int64_t bh = 0; bh < d.B * d.H; ++bh) {
            const int64_t b = bh / d.H, h = bh % d.H, kv = b * d.Hkv + h / d.group();
            const float* Q = pq + bh * d.Tq * d.D;        // (Tq, D)
            const float* K = pk + kv * d.Tk * d.D;        // (Tk, D)
            const float* V = pv + kv * d.Tk * d.Dv;       // (Tk, Dv)
            const float* Pbh = pp + bh * d.Tq * d.Tk;     // (Tq, Tk)
            const float* dObh = pdo + bh * d.Tq * d.Dv;   // (Tq, Dv)
            float* dKh = pdk + bh * d.Tk * d.D;           // (Tk, D) of this query head
            float* dVh = pdv + bh * d.Tk * d.Dv;          // (Tk, Dv) of this query head
            std::vector<float> dS(size_t(d.Tq * d.Tk));  // (Tq, Tk)

            // dV = Pᵀ dO (P̃ᵀ dO under dropout)
            const std::vector<float> dropped =
                dropout.active() ? dropped_weights(Pbh, d, dropout, b, h) : std::vector<float>();
            sgemm(true, false, d.Tk, d.Dv, d.Tq, 1.f, dropout.active() ? dropped.data() : Pbh, d.Tk, dObh, d.Dv, 0.f,
                  dVh, d.Dv);
            // dP = dO Vᵀ (then ⊙ M/(1 − p) under dropout)
            sgemm(false, true, d.Tq, d.Tk, d.Dv, 1.f, dObh, d.Dv, V, d.Dv, 0.f, dS.data(), d.Tk);
            if (dropout.active())
                for (int64_t i = 0; i < d.Tq; ++i) dropout.apply(dS.data() + i * d.Tk, d.Tk, b, h, i, 0);
            // dS = P ⊙ (dP − rowsum(dP ⊙ P)), in place over dP
            for (int64_t i = 0; i < d.Tq; ++i) {
                const float* p = Pbh + i * d.Tk;
                float* ds = dS.data() + i * d.Tk;
                double dot = 0;
                for (int64_t j = 0; j < d.Tk; ++j) dot += double(ds[j]) * p[j];
                for (int64_t j = 0; j < d.Tk; ++j) ds[j] = p[j] * (ds[j] - float(dot));
            }
            // dQ = scale · dS K,  dK = scale · dSᵀ Q
            sgemm(false, false, d.Tq, d.D, d.Tk, scale, dS.data(), d.Tk, K, d.D, 0.f, pdq + bh * d.Tq * d.D, d.D);
            sgemm(true, false, d.Tk, d.D, d.Tq, scale, dS.data(), d.Tk, Q, d.D, 0.f, dKh, d.D);
        }
        if (!grouped) return std::vector<Tensor>{dQ, dK, dV};

        // dK_g = Σ_{h in group g} dK_h   (B, H, Tk, ·) -> (B, Hkv, Tk, ·)
        Tensor dKg = Tensor::zeros({d.B, d.Hkv, d.Tk, d.D});
        Tensor dVg = Tensor::zeros({d.B, d.Hkv, d.Tk, d.Dv});
        float *pkg = dKg.data(), *pvg = dVg.data();
#pragma omp parallel for schedule(static) if (worth_threading(d.B * d.H * d.Tk * (d.D + d.Dv), d.B * d.Hkv))
        for (int64_t bg = 0; bg < d.B * d.Hkv; ++bg) {
            for (int64_t r = 0; r < d.group(); ++r) {
                const int64_t bh = bg * d.group() + r;  // query heads of group g are contiguous
                for (int64_t x = 0; x < d.Tk * d.D; ++x) pkg[bg * d.Tk * d.D + x] += pdk[bh * d.Tk * d.D + x];
                for (int64_t x = 0; x < d.Tk * d.Dv; ++x) pvg[bg * d.Tk * d.Dv + x] += pdv[bh * d.Tk * d.Dv + x];
            }
        }
        return std::vector<Tensor>{dQ, dKg, dVg};
    });

    AttentionOutput result{out, Tensor()};
    // The weights double as backward's saved P: hand out a copy when backward will read them,
    // so a caller writing into the returned tensor cannot corrupt the gradient.
    if (return_weights) result.weights = out.grad_fn() ? P.clone() : P;
    return result;
}

}  // namespace attend
