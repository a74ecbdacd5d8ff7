// io/model_checks.cpp — what a loader checks of a config read from a file before it builds
// anything from it (io/loader_internal.hpp): sizes against the file's own values, special
// ids against the vocabulary.
#include <algorithm>
#include <string>

#include "attend/error.hpp"
#include "attend/models/config.hpp"
#include "attend/nn/positions.hpp"
#include "io/loader_internal.hpp"

namespace attend {

namespace {


}  // namespace

void check_config_fits_file(const TransformerConfig& c, uint64_t values, const std::string& file) {
    try {
        c.validate();
    } catch (const Error& e) {
        bad_file(file, e.what());
    }
    // With every size bounded by ConfigLimits, these products fit in an int64.
    const int64_t params = parameter_count(c);
    const std::string sizes = "vocab_size=" + std::to_string(c.vocab_size) + ", d_model=" + std::to_string(c.d_model) +
                              ", n_layers=" + std::to_string(c.n_layers) + ", d_ff=" + std::to_string(c.d_ff) +
                              ", max_positions=" + std::to_string(c.max_positions);
    // A coarse gate, generous on purpose: a checkpoint that lacks a tensor or two is left to
    // adopt_parameters, whose message names the tensor; one that could not hold half the
    // model stops here, before a model of the config's size is even reserved.
    if (uint64_t(params) > 2 * values + (uint64_t(1) << 20))
        bad_file(file, "the config (" + sizes + ") describes " + std::to_string(params) +
                      " parameters, but the file's tensors hold only " + std::to_string(values) +
                      " values (not this model's weights, or a corrupt config)");
    // Tables the model computes from the config rather than reads: the sinusoidal table
    // (P, E) per stack, RoPE's cos/sin (P, head_dim) per layer at most (P capped by the
    // rotary cache, nn/positions.hpp: later positions are computed on the spot).
    int64_t computed = 0;
    if (c.positions == PositionType::sinusoidal) computed = 2 * c.max_positions * c.d_model;
    if (c.positions == PositionType::rope)
        computed = std::min(c.max_positions, RotaryEmbedding::kMaxCachedPositions) * c.head_dim() *
                   (c.n_layers + c.encoder_layers());
    const int64_t allowed = std::max<int64_t>(int64_t(1) << 26, 4 * params);
    if (computed > allowed)
        bad_file(file, "the config (" + sizes + ") asks for position tables of " + std::to_string(computed) +
                      " floats, more than " + std::to_string(allowed) + " for a model of " + std::to_string(params) +
                      " parameters (a corrupt max_positions?)");
}

}  // namespace attend
