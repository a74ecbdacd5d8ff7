// train/distributed.hpp — whether this build trains data-parallel over MPI
// (docs/distributed.md): `attend --version` prints it.
#pragma once
#include <string>

namespace attend {

// "MPI: Open MPI v4.1.4, ..." (the library's own version line), or "MPI: not built in".
std::string mpi_support();

}  // namespace attend
