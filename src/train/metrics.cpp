// train/metrics.cpp — batch loss, accuracy and the finiteness check (train/metrics.hpp).
#include "train/metrics.hpp"

#include <algorithm>
#include <cmath>

namespace attend {

Tensor batch_logits(const Transformer& model, const Batch& b, const ForwardMode& mode) {
    return model.config().shape == ModelShape::encoder_decoder ? model.forward(b.source, b.input, mode)
                                                               : model.forward(b.input, mode);
}

Tensor batch_loss(const Transformer& model, const Batch& b, const ForwardMode& mode) {
    return Transformer::loss(batch_logits(model, b, mode), b.targets, kIgnore);
}

void Hits::add(const Tensor& logits, const std::vector<int64_t>& targets, int64_t unigram_guess) {
    const Tensor flat = logits.contiguous();  // (B, T, V)
    const int64_t V = flat.shape().back();
    const float* row = flat.data();
    for (size_t i = 0; i < targets.size(); ++i, row += V) {
        if (targets[i] == kIgnore) continue;
        ++total;
        correct += std::max_element(row, row + V) - row == targets[i];
        unigram += targets[i] == unigram_guess;
    }
}

bool all_finite(const NamedParameters& params) {
    for (const auto& [name, p] : params) {
        const float* d = p->data();
        for (int64_t i = 0; i < p->numel(); ++i)
            if (!std::isfinite(d[i])) return false;
    }
    return true;
}

}  // namespace attend
