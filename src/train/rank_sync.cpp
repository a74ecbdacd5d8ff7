// train/rank_sync.cpp — the ranks' in-step check and their dropout streams (train/rank_sync.hpp).
#include "train/rank_sync.hpp"

#include <array>

#include "core/require.hpp"

namespace attend {

namespace {

// Identical on every rank that holds the same parameters and step. Two 32-bit halves, so the
// sum over ranks is exact in a double.
std::array<double, 2> fingerprint(const NamedParameters& params, int64_t step) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ uint64_t(step);
    for (const auto& [name, p] : params) {
        const auto* bits = reinterpret_cast<const uint32_t*>(p->data());
        for (int64_t i = 0; i < p->numel(); ++i) h = (h ^ bits[i]) * 0x100000001B3ull;
    }
    return {double(h & 0xFFFFFFFFu), double(h >> 32)};
}

}  // namespace

void check_in_step(Communicator& comm, const NamedParameters& params, int64_t step, const std::string& when) {
    if (comm.size() == 1) return;
    const std::array<double, 2> mine = fingerprint(params, step);
    std::array<double, 2> all = mine;
    comm.sum(all, when);
    ATTEND_CHECK(all[0] == mine[0] * comm.size() && all[1] == mine[1] * comm.size(), "the ranks hold different "
                 "parameters ", when, " (a checkpoint that differs between machines?); every rank must resume from "
                 "the same output folder");
}

Generator rank_dropout_stream(uint64_t seed, int64_t step, int rank) {
    return Generator(seed * 0x9E3779B97F4A7C15ull + uint64_t(step) * 0xBF58476D1CE4E5B9ull + uint64_t(rank));
}

}  // namespace attend
