// train/communicator.cpp — the single-process communicator, and the choice between it and
// MPI's (see train/communicator.hpp).
#include "train/communicator.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "attend/error.hpp"
#include "attend/train/distributed.hpp"

namespace attend {

namespace {

// One process: every sum over "all ranks" is the value itself.
class SingleProcess final : public Communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    int local_size() const override { return 1; }
    void start_sum(std::span<float>) override {}
    void start_sum(std::span<double>) override {}
    void finish(const std::string&) override {}
    [[noreturn]] void abort(const std::string& message) override {
        std::fprintf(stderr, "attend: error: %s\n", message.c_str());
        std::exit(1);
    }
};

// The world size a launcher announces: Open MPI's mpirun, PMIx (srun --mpi=pmix, prterun),
// PMI-1/2 (MPICH's hydra, srun --mpi=pmi2). 0 when none did.
long launcher_world_size() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"})
        if (const char* v = std::getenv(name)) return std::strtol(v, nullptr, 10);
    if (std::getenv("PMIX_RANK") != nullptr) return 2;  // PMIx sets no size variable: assume several
    return 0;
}

}  // namespace

bool launched_as_several_ranks() { return launcher_world_size() > 1; }

std::unique_ptr<Communicator> make_communicator(double timeout_seconds) {
    if (!launched_as_several_ranks()) return std::make_unique<SingleProcess>();
#ifdef ATTEND_WITH_MPI
    return make_mpi_communicator(timeout_seconds);
#else
    ATTEND_CHECK(false, "a launcher started ", launcher_world_size(),
                 " ranks, but this attend was built without MPI (see `attend --version`; install libopenmpi-dev "
                 "and rebuild): each rank would train alone");
#endif
}

#ifndef ATTEND_WITH_MPI
std::string mpi_support() { return "MPI: not built in"; }
#endif

}  // namespace attend
