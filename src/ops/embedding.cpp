// ops/embedding.cpp — embedding lookup, forward and backward side by side.
//
//   out[i] = W[ids[i]]                  W (V, D), ids of shape S -> out S + (D)
//   dW[v]  = Σ_{i : ids[i] = v} dout[i] (a scatter-add: a repeated id collects every gradient)
//
// The backward is split over column blocks of D, not over ids, so two threads never add
// into the same row and the sum order (by position i) is the same for any thread count.
#include <cstring>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"

namespace attend {

Tensor embedding(const Tensor& weight, std::span<const int64_t> ids, const Shape& ids_shape) {
    const ProfileScope op_scope("embedding");
    ATTEND_CHECK(weight.dim() == 2, "embedding: weight must be (vocab, dim), got ", to_string(weight.shape()));
    ATTEND_CHECK(int64_t(ids.size()) == numel_of(ids_shape), "embedding: ", ids.size(), " ids given for ids shape ",
                 to_string(ids_shape), " (", numel_of(ids_shape), " expected)");
    const int64_t vocab = weight.size(0), d = weight.size(1), n = int64_t(ids.size());
    for (int64_t i = 0; i < n; ++i)
        ATTEND_CHECK(ids[i] >= 0 && ids[i] < vocab, "embedding: token id ", ids[i], " at position ", i,
                     " is outside the vocabulary of size ", vocab, " (valid ids are 0..", vocab - 1, ")");

    Shape out_shape = ids_shape;
    out_shape.push_back(d);
    Tensor out = Tensor::empty(out_shape);  // (n, d)
    float* po = out.data();
    if (const LowPrecisionMatrix* table = weight.low_precision()) {  // a bf16 / int8 table: widen the rows
        ATTEND_CHECK(!needs_grad({weight}), "embedding: a low-precision table is for inference only");
        parallel_loop(n, n * d, [&](int64_t i) { table->dequantize_rows(ids[i], ids[i] + 1, po + i * d); });
        return out;
    }
    const Tensor w = weight.contiguous();
    const float* pw = w.data();
    parallel_loop(n, n * d, [&](int64_t i) { std::memcpy(po + i * d, pw + ids[i] * d, sizeof(float) * size_t(d)); });

    if (!needs_grad({weight})) return out;  // the closure would copy the ids: build it only when recording
    return record(out, "embedding", {weight}, [ids = std::vector<int64_t>(ids.begin(), ids.end()), vocab, d](const Tensor& g_in) {
        const Tensor g = g_in.contiguous();  // (n, d)
        Tensor dw = Tensor::zeros({vocab, d});
        const float* pg = g.data();
        float* pdw = dw.data();
        const int64_t n = int64_t(ids.size());
        constexpr int64_t kBlock = 64;  // columns per task
        const int64_t blocks = (d + kBlock - 1) / kBlock;
        parallel_loop(blocks, n * d, [&](int64_t blk) {
            const int64_t c0 = blk * kBlock, c1 = std::min(d, c0 + kBlock);
            for (int64_t i = 0; i < n; ++i) {
                float* row = pdw + ids[i] * d;
                const float* gi = pg + i * d;
                for (int64_t c = c0; c < c1; ++c) row[c] += gi[c];
            }
        });
        return std::vector<Tensor>{dw};
    });
}

}  // namespace attend
