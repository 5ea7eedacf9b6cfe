// What is here: the trainer's overlap hooks of MpiCollective (begin_gradients, then
// gradients_ready per layer slice, last layer first, as LoraTrainStep reports them during
// backward, then finish_gradients): with small integer-valued gradients the sum is exact, so
// every rank must hold the expected buffer bit for bit, for bucket sizes smaller than, equal
// to and larger than the layer slices. Runs under mpirun -np 2 / 3 (label mpi) and alone.
#include <cstdint>
#include <gtest/gtest.h>
#include <vector>

#include "parallel/mpi_collective.h"
#include "parallel/mpi_test_env.h"

namespace qforge::test {
namespace {

float value(int rank, int64_t step, int64_t i) {
    return static_cast<float>(((i * 7 + rank * 13 + step * 5) % 17) - 8);
}

TEST(CollectiveOverlap, LayerSlicesMarkedInReverseGiveTheExactSum) {
    const int rank = mpi_rank(), world = mpi_world();
    const int64_t layers = 5, per_layer = 1000 + 37, n = layers * per_layer;
    for (const std::size_t bucket_bytes :
         {std::size_t{1} << 10, std::size_t{4148}, std::size_t{1} << 20}) {
        parallel::MpiCollective coll(MPI_COMM_WORLD, bucket_bytes);
        for (int64_t step = 0; step < 3; ++step) {
            std::vector<float> g(static_cast<std::size_t>(n));
            for (int64_t i = 0; i < n; ++i) {
                g[static_cast<std::size_t>(i)] = value(rank, step, i);
            }
            coll.begin_gradients(g.data(), n);
            for (int64_t l = layers - 1; l >= 0; --l) {
                coll.gradients_ready(l * per_layer, per_layer);
            }
            coll.finish_gradients();
            bool exact = true;
            for (int64_t i = 0; i < n && exact; ++i) {
                float want = 0.0f;
                for (int r = 0; r < world; ++r) {
                    want += value(r, step, i);
                }
                exact = g[static_cast<std::size_t>(i)] == want;
            }
            EXPECT_TRUE(all_ranks_agree(exact)) << "bucket " << bucket_bytes << " step " << step;
        }
    }
}

}  // namespace
}  // namespace qforge::test
