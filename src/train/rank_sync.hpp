// train/rank_sync.hpp — what keeps the ranks of a data-parallel run in step: a check that
// they hold the same parameters, and each rank's own dropout stream (private to src/train).
#pragma once
#include <cstdint>
#include <string>

#include "attend/nn/module.hpp"
#include "attend/random.hpp"
#include "train/communicator.hpp"

namespace attend {

// An Error on every rank unless all hold the same parameters at `step` (a resume from output
// folders that differ between machines); nothing with one rank. `when` names the moment.
void check_in_step(Communicator& comm, const NamedParameters& params, int64_t step, const std::string& when);

// The dropout stream of rank r > 0 for one step: rank 0 draws from the run's own "dropout"
// stream (the one the checkpoint keeps), the others from streams of their own, so that their
// shares get masks of their own, and that a resume on any rank count can rebuild.
Generator rank_dropout_stream(uint64_t seed, int64_t step, int rank);

}  // namespace attend
