// What is here: NcclCollective, the GPU transport of train::Collective: one GPU per local rank
// (MPI_Comm_split_type SHARED -> cudaSetDevice(local rank)), an NCCL communicator bootstrapped
// by broadcasting rank 0's ncclUniqueId over MPI, and the gradient sum in buckets launched
// with ncclAllReduce on a communication stream. Waiting polls ncclCommGetAsyncError with a
// timeout; a failure aborts the communicator and throws an Error naming the rank and host.
// Exists only in CUDA builds (parallel::cuda_built()); elsewhere the constructor throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <mpi.h>

#include "parallel/grad_buckets.h"
#include "parallel/mpi_collective.h"
#include "runtime/train/collective.h"

namespace qforge::parallel {

struct NcclOptions {
    std::size_t bucket_bytes = MpiCollective::kDefaultBucketBytes;  // distributed.bucket_mb
    BucketOrder order = BucketOrder::kReverse;  // launch order (same on every rank)
    double timeout_s = 600.0;  // a collective not done after this is a hung job: abort
};

class NcclCollective final : public train::Collective {
public:
    // Collective over the MPI communicator `comm` (the caller keeps it alive): selects this
    // rank's GPU, creates the NCCL communicator and the communication stream. Refuses two
    // ranks on one GPU (NCCL cannot do it; use MpiCollective with device buffers instead).
    explicit NcclCollective(MPI_Comm comm, NcclOptions options = {});
    ~NcclCollective() override;
    NcclCollective(const NcclCollective&) = delete;
    NcclCollective& operator=(const NcclCollective&) = delete;

    int rank() const override;
    int world() const override;
    int device() const;  // the CUDA device this rank uses

    // Host buffers (token counts, loss sums): over MPI.
    void allreduce_sum(float* data, int64_t n) override;
    void allreduce_sum(double* data, int64_t n) override;

    // `device_data` is GPU memory of device(): summed in place over the ranks, in buckets, on
    // the communication stream, after the work already queued on the compute stream; returns
    // when the sum is complete (the same contract as the MPI transport).
    void allreduce_gradients(float* device_data, int64_t n) override;

    bool accepts_device_buffers() const override { return true; }

    // train::Collective's overlap hooks: begin / mark_ready / finish below.
    void begin_gradients(float* data, int64_t n) override { begin(data, n); }

    void gradients_ready(int64_t offset, int64_t count) override { mark_ready(offset, count); }

    void finish_gradients() override { finish(); }

    void barrier() override;

    // The stream (a cudaStream_t) that produces the gradients; nullptr = the legacy default
    // stream. Buckets wait for it before they travel; finish() makes it wait for them.
    void set_compute_stream(void* stream);

    // Overlap with backward: begin a step on `device_data`, mark slices final as backward
    // completes them (full buckets launch at once, in the fixed order), then finish(): the
    // remaining buckets launch, the compute stream waits for all of them (no host wait).
    // wait() blocks the host until the step's all-reduce is done, polling NCCL for errors.
    void begin(float* device_data, int64_t n);
    void mark_ready(int64_t offset, int64_t count);
    void finish();
    void wait();

    int64_t num_buckets() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace qforge::parallel
