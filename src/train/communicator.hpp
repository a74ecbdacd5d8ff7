// train/communicator.hpp — what data-parallel training asks of the processes it runs in:
// who am I, how many are we, and element-wise sums over all of us.
//
// `attend train` under a launcher (mpirun, srun, ...) gets an MPI communicator
// (mpi_communicator.cpp, built when CMake finds MPI); run plainly it gets the single-process
// one, whose sums are no-ops, so the trainer calls the same functions either way and a
// 1-process run is exactly the run it was before MPI existed.
//
// Sums go in rounds: start any number of them (gradient buckets, a few scalars), then
// finish() waits for all. A round that does not finish within the timeout (a rank hung, or
// died without its launcher noticing) stops every rank with a message naming the rank that
// never arrived — never a silent hang (docs/distributed.md, "Faults").
#pragma once
#include <memory>
#include <span>
#include <string>

namespace attend {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;        // 0 .. size() - 1; rank 0 prints and writes files
    virtual int size() const = 0;        // ranks in the run
    virtual int local_size() const = 0;  // ranks on this machine (they share its cores)

    // Replaces `values` with their element-wise sum over all ranks (the same on every rank)
    // once finish() returns. The memory must stay put until then.
    virtual void start_sum(std::span<float> values) = 0;
    virtual void start_sum(std::span<double> values) = 0;
    // Waits for the round's sums; `what` ("the gradients of step 12") names it in a timeout.
    virtual void finish(const std::string& what) = 0;
    void sum(std::span<double> values, const std::string& what) {
        start_sum(values);
        finish(what);
    }

    // Prints "attend: error: rank R of N: message" and stops every rank of the run.
    [[noreturn]] virtual void abort(const std::string& message) = 0;
};

// A single process, or the MPI world when a launcher started this one (and MPI is built
// in; else an Error saying so). `timeout_seconds` bounds every round (above).
std::unique_ptr<Communicator> make_communicator(double timeout_seconds);

// True when an MPI launcher (mpirun, srun, ...) started this process as one of several.
bool launched_as_several_ranks();

#ifdef ATTEND_WITH_MPI
std::unique_ptr<Communicator> make_mpi_communicator(double timeout_seconds);  // mpi_communicator.cpp
#endif

}  // namespace attend
