// What is here: eval sweeps under mpirun: systems (base + adapters) are dealt round-robin to
// ranks, each rank evaluates whole systems, and rank 0 gathers every result.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <mpi.h>

namespace qforge::eval {

// The systems rank `rank` of `world` evaluates: i with i % world == rank, in order.
std::vector<std::size_t> systems_for_rank(std::size_t num_systems, int rank, int world);

// Every rank's `mine` on `root` of `comm`, in rank order (empty on the other ranks).
std::vector<std::string> gather_strings(MPI_Comm comm, const std::string& mine, int root = 0);

}  // namespace qforge::eval
