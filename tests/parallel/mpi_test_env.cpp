// What is here: a GoogleTest global environment that starts MPI before the first test of
// test_parallel and finalises it after the last one (gtest_main supplies main()).
#include "parallel/mpi_test_env.h"

#include <gtest/gtest.h>

#include "parallel/mpi_collective.h"

namespace qforge::test {

namespace {
class MpiEnvironment : public ::testing::Environment {
public:
    void SetUp() override { session_ = std::make_unique<parallel::MpiSession>(nullptr, nullptr); }

    void TearDown() override { session_.reset(); }

private:
    std::unique_ptr<parallel::MpiSession> session_;
};

[[maybe_unused]] ::testing::Environment* const kMpiEnv =
    ::testing::AddGlobalTestEnvironment(new MpiEnvironment);
}  // namespace

int mpi_rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int mpi_world() {
    int w = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &w);
    return w;
}

bool all_ranks_agree(bool ok) {
    int mine = ok ? 1 : 0, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all == 1;
}

}  // namespace qforge::test
