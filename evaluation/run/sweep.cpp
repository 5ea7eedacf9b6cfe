// What is here: systems_for_rank and gather_strings (sizes by MPI_Gather, bytes by
// MPI_Gatherv; every MPI return checked).
#include "evaluation/run/sweep.h"

#include <climits>

#include "kernels/common.h"
#include "parallel/mpi_check.h"

namespace qforge::eval {

std::vector<std::size_t> systems_for_rank(std::size_t num_systems, int rank, int world) {
    QF_CHECK(world >= 1 && rank >= 0 && rank < world, "systems_for_rank: rank {} of world {}", rank,
             world);
    std::vector<std::size_t> out;
    for (std::size_t i = static_cast<std::size_t>(rank); i < num_systems;
         i += static_cast<std::size_t>(world)) {
        out.push_back(i);
    }
    return out;
}

std::vector<std::string> gather_strings(MPI_Comm comm, const std::string& mine, int root) {
    int rank = 0, world = 1;
    QF_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    QF_MPI_CHECK(MPI_Comm_size(comm, &world));
    QF_CHECK(mine.size() <= static_cast<std::size_t>(INT_MAX),
             "gather_strings: {} bytes from rank {} exceed what MPI_Gatherv counts", mine.size(),
             rank);
    int size = static_cast<int>(mine.size());
    std::vector<int> sizes(static_cast<std::size_t>(world), 0);
    QF_MPI_CHECK(MPI_Gather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, root, comm));
    std::vector<int> offsets(static_cast<std::size_t>(world), 0);
    long long total = 0;
    for (int r = 0; r < world; r++) {
        offsets[static_cast<std::size_t>(r)] = static_cast<int>(total);
        total += sizes[static_cast<std::size_t>(r)];
    }
    QF_CHECK(rank != root || total <= INT_MAX, "gather_strings: {} bytes in all exceed INT_MAX",
             total);
    std::string all(rank == root ? static_cast<std::size_t>(total) : 0, '\0');
    QF_MPI_CHECK(MPI_Gatherv(mine.data(), size, MPI_CHAR, all.data(), sizes.data(), offsets.data(),
                             MPI_CHAR, root, comm));
    std::vector<std::string> out;
    if (rank == root) {
        for (int r = 0; r < world; r++) {
            out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                                     static_cast<std::size_t>(sizes[static_cast<std::size_t>(r)])));
        }
    }
    return out;
}

}  // namespace qforge::eval
