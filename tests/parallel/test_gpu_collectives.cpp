// What is here: the GPU transports of the gradient sum (skipped without a CUDA build or a GPU):
//   - NCCL on a communicator of size 1 (MPI_COMM_SELF on every rank): buckets in shuffled
//     mark_ready order, the buffer comes back bit for bit (the sum over one rank);
//   - NCCL over all ranks when this node has a GPU per rank: small integer-valued floats, so
//     the sum is exact, checked bit for bit on every rank; with fewer GPUs than ranks, the
//     constructor refuses with a message that names the cause;
//   - the MPI transport with device buffers (host-staged through pinned memory): the same
//     exact check on every rank; several ranks may share one GPU (how multi-rank GPU runs are
//     tested on a single-GPU machine).
#include <algorithm>
#include <gtest/gtest.h>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "parallel/device_memory.h"
#include "parallel/mpi_collective.h"
#include "parallel/mpi_test_env.h"
#include "parallel/nccl_collective.h"

namespace qforge::test {

namespace {

bool have_gpu() {
    return parallel::cuda_built() && parallel::cuda_device_count() > 0;
}

// Integer-valued floats in [-8, 8] seeded by (rank, salt): sums of a few ranks are exact.
std::vector<float> small_ints(int64_t n, int rank, uint64_t salt) {
    std::mt19937_64 rng(salt * 1000003u + static_cast<uint64_t>(rank));
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) {
        x = static_cast<float>(static_cast<int>(rng() % 17) - 8);
    }
    if (std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; })) {
        v[0] = 1.0f;
    }
    return v;
}

std::vector<float> expected_sum(int64_t n, int world, uint64_t salt) {
    std::vector<float> sum(static_cast<size_t>(n), 0.0f);
    for (int r = 0; r < world; ++r) {
        const auto v = small_ints(n, r, salt);
        for (size_t i = 0; i < sum.size(); ++i) {
            sum[i] += v[i];
        }
    }
    return sum;
}

}  // namespace

TEST(GpuCollectives, NcclOnOneRankKeepsTheBufferInAnyMarkOrder) {
    if (!have_gpu()) {
        GTEST_SKIP() << "no CUDA build or no GPU";
    }
    for (const int64_t n : {int64_t{1}, int64_t{1031}, int64_t{100003}}) {
        parallel::NcclOptions o;
        o.bucket_bytes = 4000;  // 1000 floats: several buckets, the last one partial
        parallel::NcclCollective nccl(MPI_COMM_SELF, o);
        EXPECT_EQ(nccl.world(), 1);
        const auto host = small_ints(n, mpi_rank(), 7);
        parallel::DeviceFloats dev(n);
        dev.upload(host.data());
        // Mark 97-float slices in a shuffled order, twice (two steps on one layout).
        for (int step = 0; step < 2; ++step) {
            std::vector<int64_t> starts;
            for (int64_t off = 0; off < n; off += 97) {
                starts.push_back(off);
            }
            std::shuffle(starts.begin(), starts.end(), std::mt19937_64(step + 1));
            nccl.begin(dev.data(), n);
            for (const int64_t off : starts) {
                nccl.mark_ready(off, std::min<int64_t>(97, n - off));
            }
            nccl.finish();
            nccl.wait();
        }
        EXPECT_EQ(nccl.num_buckets(), (n + 999) / 1000);
        nccl.allreduce_gradients(dev.data(), n);
        std::vector<float> back(static_cast<size_t>(n), -1.0f);
        dev.download(back.data());
        EXPECT_EQ(back, host) << "n " << n;
    }
}

TEST(GpuCollectives, NcclSumsExactlyOnEveryRankOrRefusesSharedGpus) {
    if (!have_gpu()) {
        GTEST_SKIP() << "no CUDA build or no GPU";
    }
    const int world = mpi_world();
    MPI_Comm local;
    ASSERT_EQ(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local),
              MPI_SUCCESS);
    int local_world = 1;
    MPI_Comm_size(local, &local_world);
    MPI_Comm_free(&local);
    if (local_world > parallel::cuda_device_count()) {
        try {
            parallel::NcclCollective nccl(MPI_COMM_WORLD);
            FAIL() << "NCCL with " << local_world << " ranks on " << parallel::cuda_device_count()
                   << " GPU(s) should be refused";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("NCCL needs one GPU per rank"), std::string::npos)
                << e.what();
        }
        return;
    }
    const int64_t n = 100003;
    parallel::NcclOptions o;
    o.bucket_bytes = 3 * 4096;
    parallel::NcclCollective nccl(MPI_COMM_WORLD, o);
    const auto host = small_ints(n, mpi_rank(), 11);
    parallel::DeviceFloats dev(n);
    dev.upload(host.data());
    nccl.allreduce_gradients(dev.data(), n);
    std::vector<float> back(static_cast<size_t>(n));
    dev.download(back.data());
    EXPECT_TRUE(all_ranks_agree(back == expected_sum(n, world, 11)))
        << "NCCL sum differs on some rank";
    double scalars[2] = {1.5, static_cast<double>(mpi_rank())};
    nccl.allreduce_sum(scalars, 2);  // host scalars travel over MPI
    EXPECT_EQ(scalars[0], 1.5 * world);
    EXPECT_EQ(scalars[1], world * (world - 1) / 2.0);
}

TEST(GpuCollectives, MpiTransportSumsDeviceBuffersThroughTheHost) {
    if (!have_gpu()) {
        GTEST_SKIP() << "no CUDA build or no GPU";
    }
    const int world = mpi_world();
    for (const int64_t n : {int64_t{1031}, int64_t{100003}}) {
        parallel::MpiCollective coll(MPI_COMM_WORLD, 4096);
        coll.set_device_buffers(true);
        const auto host = small_ints(n, mpi_rank(), 13 + static_cast<uint64_t>(n));
        parallel::DeviceFloats dev(n);
        dev.upload(host.data());
        coll.allreduce_gradients(dev.data(), n);
        coll.allreduce_gradients(dev.data(), n);  // twice: the staging buffer is reused
        std::vector<float> back(static_cast<size_t>(n));
        dev.download(back.data());
        auto want = expected_sum(n, world, 13 + static_cast<uint64_t>(n));
        for (auto& x : want) {
            x *= static_cast<float>(world);  // the second sum multiplies by the world size
        }
        EXPECT_TRUE(all_ranks_agree(back == want)) << "n " << n;
    }
}

TEST(GpuCollectives, WithoutCudaTheNcclTransportIsOneClearError) {
    if (parallel::cuda_built()) {
        GTEST_SKIP() << "this build has CUDA";
    }
    try {
        parallel::NcclCollective nccl(MPI_COMM_SELF);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("needs a CUDA build"), std::string::npos) << e.what();
    }
}

}  // namespace qforge::test
