// What is here: the MPI side of qforge: starting MPI only when the process was launched by
// mpirun/srun, the rank topology (rank, world, local rank on the node), and the MPI
// transport of train::Collective used by the CPU backend.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <mpi.h>

#include "parallel/device_memory.h"
#include "parallel/grad_buckets.h"
#include "runtime/train/collective.h"

namespace qforge::parallel {

// "rank 3 on node7" (or "rank ? on <host>" before MPI_Init): for error messages.
std::string rank_and_host();

// True when a launcher (mpirun/mpiexec, srun) started this process as one of several ranks:
// then MPI must be initialised; otherwise the run is single-process and MPI stays untouched.
bool launched_by_mpi();

struct Topology {
    int rank = 0, world = 1;
    int local_rank = 0, local_world = 1;  // among the ranks on this node (MPI_COMM_TYPE_SHARED)
    std::string host;
};

// MPI_Init_thread on construction, MPI_Finalize on destruction. Errors on MPI_COMM_WORLD are
// returned (MPI_ERRORS_RETURN) and checked, so they become qforge::Errors. `thread_multiple`
// asks for MPI_THREAD_MULTIPLE (the sweep's coordinator thread); otherwise MPI_THREAD_FUNNELED.
class MpiSession {
public:
    MpiSession(int* argc, char*** argv, bool thread_multiple = false);
    ~MpiSession();
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;

    const Topology& topology() const { return topology_; }

    // True when MPI granted MPI_THREAD_MULTIPLE (only asked for with thread_multiple).
    bool thread_multiple() const { return thread_multiple_; }

    // Ends every rank of the job (after an error on one of them).
    [[noreturn]] static void abort_job(int code);

private:
    Topology topology_;
    bool thread_multiple_ = false;
};

// distributed.bucket_mb (MiB, may be fractional) as bytes: a whole number of floats, at least one.
std::size_t bucket_bytes_from_mb(double mb);

class MpiCollective final : public train::Collective {
public:
    // 25 MiB, PyTorch DDP's default: large enough to reach bus bandwidth, small enough that
    // several buckets of a big model overlap with backward.
    static constexpr std::size_t kDefaultBucketBytes = std::size_t{25} << 20;

    MpiCollective();  // on MPI_COMM_WORLD
    // On `comm` (e.g. a sweep group from MPI_Comm_split); the caller keeps it alive.
    explicit MpiCollective(MPI_Comm comm, std::size_t bucket_bytes = kDefaultBucketBytes);

    int rank() const override { return rank_; }

    int world() const override { return world_; }

    void allreduce_sum(float* data, int64_t n) override;
    void allreduce_sum(double* data, int64_t n) override;
    // Through a GradientBucketer of bucket_bytes buckets, made on first use for this n. With
    // device buffers on, `data` is GPU memory: staged through pinned host memory (the MPI
    // transport of GPU ranks, e.g. several ranks sharing one GPU, where NCCL refuses).
    void allreduce_gradients(float* data, int64_t n) override;
    // Host buffers: buckets launch (MPI_Iallreduce, last bucket first) as backward marks them
    // ready. With device buffers there is no overlap (the staging copy needs the whole buffer).
    void begin_gradients(float* data, int64_t n) override;
    void gradients_ready(int64_t offset, int64_t count) override;
    void finish_gradients() override;
    void barrier() override;

    // allreduce_gradients takes device pointers from now on (allreduce_sum stays on the host).
    void set_device_buffers(bool on) { device_buffers_ = on; }

    bool accepts_device_buffers() const override { return device_buffers_; }

    MPI_Comm comm() const { return comm_; }

private:
    MPI_Comm comm_ = MPI_COMM_WORLD;
    std::size_t bucket_bytes_ = kDefaultBucketBytes;
    int rank_ = 0, world_ = 1;
    std::unique_ptr<GradientBucketer> buckets_;
    bool device_buffers_ = false;
    bool overlapping_ = false;  // inside begin_gradients .. finish_gradients on host buffers
    std::unique_ptr<PinnedStaging> staging_;
};

}  // namespace qforge::parallel
