// train/memory_budget.cpp — the memory a training run needs, against what the machine has
// (train/memory_budget.hpp).
#include "train/memory_budget.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "attend/error.hpp"

namespace attend {

// Activations, per token of a micro-batch, in floats: each layer keeps at least its input, the
// normalised input, q, k, v, the attention output and projection (≈ 7·E), and the feed-forward's
// hidden and activated values (2·F); the LM head keeps its logits and their softmax (2·V). The
// fused attention keeps no T×T weights (only a log-sum-exp per row). The true figure is
// larger (residual sums, dropout masks, gradients in flight): this is the floor.
TrainingMemory training_memory(const TransformerConfig& c, int64_t batch, int64_t block) {
    TrainingMemory m;
    m.parameters = parameter_count(c);  // validates the config: every size below is bounded
    m.state_bytes = uint64_t(m.parameters) * 16;
    const int64_t layers = c.n_layers + (c.shape == ModelShape::encoder_decoder ? c.encoder_layers() : 0);
    const long double per_token = (long double)layers * (7.0L * c.d_model + 2.0L * c.d_ff) + 2.0L * c.vocab_size;
    const long double bytes = per_token * 4.0L * (long double)batch * (long double)block;
    m.activation_bytes = bytes > 1e19L ? uint64_t(1e19) : uint64_t(bytes);
    return m;
}

uint64_t usable_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    uint64_t usable = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : UINT64_MAX;
    // A container's limit (cgroup v2) binds before the host's RAM does.
    std::ifstream limit("/sys/fs/cgroup/memory.max");
    std::string text;
    if (limit >> text && !text.empty() && std::all_of(text.begin(), text.end(), ::isdigit) && text.size() < 20)
        usable = std::min<uint64_t>(usable, std::stoull(text));
    return usable;
}

namespace {

std::string gib(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", double(bytes) / double(uint64_t(1) << 30));
    return text;
}

}  // namespace

void check_training_fits_memory(const TransformerConfig& c, int64_t batch, int64_t block) {
    const TrainingMemory m = training_memory(c, batch, block);
    const uint64_t usable = usable_memory_bytes();
    if (m.total() > usable)
        throw Error("the model (" + std::to_string(m.parameters) + " parameters: d_model=" + std::to_string(c.d_model) +
                    ", layers=" + std::to_string(c.n_layers) + ", d_ff=" + std::to_string(c.d_ff) + ", vocab=" +
                    std::to_string(c.vocab_size) + ") needs at least " + gib(m.total()) + " to train at batch " +
                    std::to_string(batch) + " × block " + std::to_string(block) + " (" + gib(m.state_bytes) +
                    " for weights, gradients and AdamW state, " + gib(m.activation_bytes) +
                    " for activations), more than this machine's " + gib(usable) +
                    ": use a smaller --dim, --layers, --batch or --block");
}

}  // namespace attend
