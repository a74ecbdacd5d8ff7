// train/gradient_reducer.hpp — summing every rank's gradients, bucket by bucket.
//
// The parameters are laid out, last first (the order backward finishes them), in buckets of
// about 16 MiB of float gradients; start() copies each bucket's gradients into its buffer and
// starts its sum at once, so the first buckets travel while the later ones are packed;
// finish() — after the communicator's round — puts the sums back as the gradients.
// Starting buckets during backward, as PyTorch's DDP does, would need hooks in the autograd
// tape and pays only when the network progresses on its own while we compute: Open MPI moves
// a non-blocking collective only inside MPI calls, so on CPUs the sums would wait for the
// backward pass anyway (docs/distributed.md, "What the all-reduce costs").
//
// A gradient that is undefined on a rank (a share whose loss it skipped) counts as zeros; a
// parameter gets a gradient after the sum when any rank had one, as with one rank.
#pragma once
#include <cstdint>
#include <vector>

#include "attend/nn/module.hpp"
#include "train/communicator.hpp"

namespace attend {

class GradientReducer {
public:
    explicit GradientReducer(NamedParameters params, int64_t bucket_bytes = 16 << 20);

    void start(Communicator& comm);  // pack and start every bucket's sum (the round stays open)
    void finish();                   // after comm.finish(): the sums become the gradients

    int64_t gradient_bytes() const { return 4 * total_; }  // what one rank sends into the sums, per step
    size_t buckets() const { return buckets_.size(); }

private:
    struct Bucket {
        std::vector<size_t> params;  // indices into params_
        std::vector<float> values;
    };
    NamedParameters params_;
    std::vector<Bucket> buckets_;
    std::vector<float> defined_;  // per parameter: ranks that had a gradient
    int64_t total_ = 0;
};

}  // namespace attend
