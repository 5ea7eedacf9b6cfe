// What is here: helpers for the tests of parallel/ that run under mpirun (or alone, as a
// one-rank MPI job): MPI is initialised once for the whole test binary.
#pragma once

#include <mpi.h>

namespace qforge::test {

// Rank and size on MPI_COMM_WORLD (MPI is already initialised by the test environment).
int mpi_rank();
int mpi_world();

// True on every rank when `ok` holds on every rank: a failure on one rank fails them all,
// so no rank goes on into a collective the others left.
bool all_ranks_agree(bool ok);

}  // namespace qforge::test
