// What is here: exact tests of GradientBucketer and MpiCollective (STYLE.md item 8). Each
// rank fills its gradients with small integer-valued floats seeded by (step, rank, index), so
// the sum over ranks is exact in fp32 whatever the reduction order: after the reduce every
// rank must hold the expected buffer bit for bit, for bucket sizes that divide the buffer and
// sizes that do not. Run under `mpirun -np 2` and `-np 3` (CTest label mpi) and alone.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <gtest/gtest.h>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "parallel/grad_buckets.h"
#include "parallel/mpi_collective.h"
#include "parallel/mpi_test_env.h"
#include "support/test_support.h"

namespace qforge::test {

namespace {

// An integer in [-8, 8] from (seed, step, rank, index): a splitmix64 hash, so every rank can
// compute every other rank's values.
float grad_value(uint64_t seed, int64_t step, int rank, int64_t i) {
    uint64_t z = seed ^ (static_cast<uint64_t>(step) * 0x9E3779B97F4A7C15ull) ^
                 (static_cast<uint64_t>(rank) << 48) ^ static_cast<uint64_t>(i);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(static_cast<int>(z % 17) - 8);
}

std::vector<float> fill(uint64_t seed, int64_t step, int rank, int64_t n) {
    std::vector<float> g(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        g[static_cast<size_t>(i)] = grad_value(seed, step, rank, i);
    }
    return g;
}

std::vector<float> expected_sum(uint64_t seed, int64_t step, int world, int64_t n) {
    std::vector<float> s(static_cast<size_t>(n), 0.0f);
    for (int r = 0; r < world; ++r) {
        for (int64_t i = 0; i < n; ++i) {
            s[static_cast<size_t>(i)] += grad_value(seed, step, r, i);
        }
    }
    return s;
}

// Index of the first element whose bits differ, or -1.
int64_t first_bit_difference(const std::vector<float>& a, const std::vector<float>& b) {
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) {
            return static_cast<int64_t>(i);
        }
    }
    return a.size() == b.size() ? -1 : static_cast<int64_t>(std::min(a.size(), b.size()));
}

// The same seed on every rank (test_seed() hashes the test name, identical everywhere).
uint64_t shared_seed() {
    uint64_t s = test_seed();
    MPI_Bcast(&s, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    return s;
}

void expect_exact(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what) {
    const int64_t bad = first_bit_difference(got, want);
    const bool ok = all_ranks_agree(bad < 0);
    EXPECT_TRUE(ok) << what << " on rank " << mpi_rank() << " of " << mpi_world()
                    << ": first differing index " << bad << " (got "
                    << (bad >= 0 ? got[static_cast<size_t>(bad)] : 0.0f) << ", want "
                    << (bad >= 0 ? want[static_cast<size_t>(bad)] : 0.0f) << ")";
}

struct BucketCase {
    int64_t n;
    size_t bucket_bytes;
};

std::string case_name(const ::testing::TestParamInfo<BucketCase>& info) {
    return "n" + std::to_string(info.param.n) + "_bytes" + std::to_string(info.param.bucket_bytes);
}

class GradBuckets : public ::testing::TestWithParam<BucketCase> {};

}  // namespace

// Whole buffer at once, three steps reusing the bucketer.
TEST_P(GradBuckets, AllreduceIsExactOnEveryRank) {
    const auto [n, bytes] = GetParam();
    const uint64_t seed = shared_seed();
    parallel::GradientBucketer buckets(MPI_COMM_WORLD, n, bytes);
    const int64_t per = std::max<int64_t>(1, static_cast<int64_t>(bytes / 4));
    EXPECT_EQ(buckets.num_buckets(), (n + per - 1) / per);
    for (int64_t step = 0; step < 3; ++step) {
        std::vector<float> g = fill(seed, step, mpi_rank(), n);
        buckets.allreduce(g.data());
        expect_exact(g, expected_sum(seed, step, mpi_world(), n), "step " + std::to_string(step));
    }
}

// Ranges marked ready in a shuffled order (the same on every rank, as backward would be),
// for both launch orders; what is never marked is reduced by finish().
TEST_P(GradBuckets, MarkReadyInAnyOrderThenFinish) {
    const auto [n, bytes] = GetParam();
    const uint64_t seed = shared_seed();
    for (auto order : {parallel::BucketOrder::kForward, parallel::BucketOrder::kReverse}) {
        parallel::GradientBucketer buckets(MPI_COMM_WORLD, n, bytes, order);
        std::mt19937_64 rng(seed);
        for (int64_t step = 0; step < 2; ++step) {
            // Cut [0, n) into random pieces, drop one, mark the rest in shuffled order.
            std::vector<int64_t> cuts = {0, n};
            for (int k = 0; k < 7; ++k) {
                cuts.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(n + 1)));
            }
            std::sort(cuts.begin(), cuts.end());
            cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
            std::vector<size_t> pieces(cuts.size() - 1);
            std::iota(pieces.begin(), pieces.end(), size_t{0});
            std::shuffle(pieces.begin(), pieces.end(), rng);
            pieces.pop_back();

            std::vector<float> g = fill(seed, step, mpi_rank(), n);
            buckets.begin(g.data());
            for (size_t p : pieces) {
                buckets.mark_ready(cuts[p], cuts[p + 1] - cuts[p]);
            }
            buckets.finish();
            expect_exact(g, expected_sum(seed, step, mpi_world(), n),
                         "order " + std::to_string(static_cast<int>(order)) + " step " +
                             std::to_string(step));
        }
    }
}

// 1031 is prime: no bucket size but 1 element and the whole buffer divides it.
INSTANTIATE_TEST_SUITE_P(Sizes, GradBuckets,
                         ::testing::Values(BucketCase{1031, 4}, BucketCase{1031, 12},
                                           BucketCase{1031, 148}, BucketCase{1031, 1000},
                                           BucketCase{1031, 4124}, BucketCase{1031, 1 << 20},
                                           BucketCase{4096, 1024}, BucketCase{4096, 3},
                                           BucketCase{1, 64}, BucketCase{100003, 4000}),
                         case_name);

TEST(GradBucketsErrors, OverlappingOrOutOfRangeMarksAreRefused) {
    const int64_t n = 100;
    parallel::GradientBucketer buckets(MPI_COMM_WORLD, n, 1 << 20);  // one bucket: none launches
    std::vector<float> g = fill(shared_seed(), 0, mpi_rank(), n);
    const std::vector<float> want = expected_sum(shared_seed(), 0, mpi_world(), n);
    EXPECT_THROW(buckets.mark_ready(0, 10), Error);  // before begin()
    buckets.begin(g.data());
    EXPECT_THROW(buckets.mark_ready(95, 10), Error);
    EXPECT_THROW(buckets.mark_ready(-1, 2), Error);
    buckets.mark_ready(0, 60);
    try {
        buckets.mark_ready(50, 20);
        ADD_FAILURE() << "overlapping mark_ready was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("more than once"), std::string::npos) << e.what();
    }
    buckets.finish();
    expect_exact(g, want, "after refused marks");
}

// The trainer's path: MpiCollective::allreduce_gradients with small buckets, then a
// collective on a split communicator (as sweeps use) that sums over the group only.
TEST(MpiCollective, GradientsAndSubCommunicatorsAreExact) {
    const uint64_t seed = shared_seed();
    const int64_t n = 777;
    parallel::MpiCollective world(MPI_COMM_WORLD, 40);
    EXPECT_EQ(world.rank(), mpi_rank());
    EXPECT_EQ(world.world(), mpi_world());
    for (int64_t step = 0; step < 2; ++step) {
        std::vector<float> g = fill(seed, step, mpi_rank(), n);
        world.allreduce_gradients(g.data(), n);
        expect_exact(g, expected_sum(seed, step, mpi_world(), n), "world gradients");
    }

    // Groups {0, 2, ...} and {1, 3, ...}.
    MPI_Comm group;
    ASSERT_EQ(MPI_Comm_split(MPI_COMM_WORLD, mpi_rank() % 2, mpi_rank(), &group), MPI_SUCCESS);
    {
        parallel::MpiCollective coll(group, 64);
        std::vector<float> g = fill(seed, 5, mpi_rank(), n);
        coll.allreduce_gradients(g.data(), n);
        std::vector<float> want(static_cast<size_t>(n), 0.0f);
        for (int r = mpi_rank() % 2; r < mpi_world(); r += 2) {
            for (int64_t i = 0; i < n; ++i) {
                want[static_cast<size_t>(i)] += grad_value(seed, 5, r, i);
            }
        }
        EXPECT_EQ(coll.world(), (mpi_world() - mpi_rank() % 2 + 1) / 2);
        expect_exact(g, want, "group gradients");
    }
    MPI_Comm_free(&group);
}

}  // namespace qforge::test
