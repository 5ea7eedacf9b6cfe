// What is here: NcclCollective (see nccl_collective.h). Compiled with QFORGE_HAS_CUDA only;
// without it every entry point throws.
//
// Ordering: mark_ready records an event on the compute stream and makes the communication
// stream wait for it, then enqueues ncclAllReduce(sum, in place) for each newly complete
// bucket, in the fixed bucket order (NCCL, like MPI, needs every rank to issue collectives in
// the same order). finish() records `done` on the communication stream and makes the compute
// stream wait for it. wait() spins on cudaEventQuery(done), polling ncclCommGetAsyncError
// between queries, and aborts the communicator on an error or after options.timeout_s.
#include "parallel/nccl_collective.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/common.h"
#include "parallel/cuda_check.h"
#include "parallel/mpi_check.h"

namespace qforge::parallel {

#ifdef QFORGE_HAS_CUDA

struct NcclCollective::Impl {
    NcclOptions options;
    MpiCollective host;  // host scalars and barriers go over MPI on the same ranks
    int device = 0;
    ncclComm_t comm = nullptr;
    cudaStream_t comm_stream = nullptr;
    cudaStream_t compute = nullptr;  // nullptr: legacy default stream
    cudaEvent_t ready = nullptr, done = nullptr;

    struct Bucket {
        int64_t offset = 0, count = 0, ready = 0;
    };

    std::vector<Bucket> buckets;
    int64_t n = -1, bucket_elems = 1;
    float* data = nullptr;
    std::size_t next_launch = 0;

    explicit Impl(MPI_Comm mpi_comm, NcclOptions o) : options(o), host(mpi_comm) {}

    void layout(int64_t size) {
        if (size == n) {
            return;
        }
        n = size;
        bucket_elems = std::max<int64_t>(1, static_cast<int64_t>(options.bucket_bytes / 4));
        buckets.clear();
        for (int64_t off = 0; off < n; off += bucket_elems) {
            buckets.push_back({off, std::min(bucket_elems, n - off), 0});
        }
    }

    void launch_ready() {
        bool waited = false;
        while (next_launch < buckets.size()) {
            const std::size_t k = options.order == BucketOrder::kForward
                                      ? next_launch
                                      : buckets.size() - 1 - next_launch;
            Bucket& b = buckets[k];
            if (b.ready != b.count) {
                return;
            }
            if (!waited) {  // the communication stream starts after what compute queued so far
                QF_CUDA_CALL(cudaEventRecord(ready, compute));
                QF_CUDA_CALL(cudaStreamWaitEvent(comm_stream, ready, 0));
                waited = true;
            }
            QF_NCCL_CALL(
                comm, ncclAllReduce(data + b.offset, data + b.offset, static_cast<size_t>(b.count),
                                    ncclFloat, ncclSum, comm, comm_stream));
            ++next_launch;
        }
    }

    [[noreturn]] void fail(const std::string& why) {
        ncclCommAbort(comm);  // unblocks the kernels of this rank; the job is over
        comm = nullptr;
        QF_FAIL("{}: NCCL all-reduce on GPU {}: {}", rank_and_host(), device, why);
    }
};

NcclCollective::NcclCollective(MPI_Comm comm, NcclOptions options)
    : impl_(std::make_unique<Impl>(comm, options)) {
    Impl& m = *impl_;
    QF_CHECK(options.timeout_s > 0, "NcclCollective: timeout must be > 0 s, got {}",
             options.timeout_s);
    // One GPU per rank of this node.
    MPI_Comm local;
    QF_MPI_CHECK(
        MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, m.host.rank(), MPI_INFO_NULL, &local));
    int local_rank = 0, local_world = 1;
    QF_MPI_CHECK(MPI_Comm_rank(local, &local_rank));
    QF_MPI_CHECK(MPI_Comm_size(local, &local_world));
    QF_MPI_CHECK(MPI_Comm_free(&local));
    int gpus = 0;
    QF_CUDA_CALL(cudaGetDeviceCount(&gpus));
    QF_CHECK(local_world <= gpus,
             "{}: {} ranks on this node but {} GPU(s): NCCL needs one GPU per rank (it refuses "
             "two ranks on one GPU); start at most {} ranks per node, or use the MPI transport",
             rank_and_host(), local_world, gpus, gpus);
    m.device = local_rank;
    QF_CUDA_CALL(cudaSetDevice(m.device));

    // Rank 0 makes the id, MPI carries it to the others.
    ncclUniqueId id;
    if (m.host.rank() == 0) {
        QF_NCCL_CALL(nullptr, ncclGetUniqueId(&id));
    }
    QF_MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm));
    QF_NCCL_CALL(nullptr, ncclCommInitRank(&m.comm, m.host.world(), id, m.host.rank()));
    QF_CUDA_CALL(cudaStreamCreateWithFlags(&m.comm_stream, cudaStreamNonBlocking));
    QF_CUDA_CALL(cudaEventCreateWithFlags(&m.ready, cudaEventDisableTiming));
    QF_CUDA_CALL(cudaEventCreateWithFlags(&m.done, cudaEventDisableTiming));
}

NcclCollective::~NcclCollective() {
    Impl& m = *impl_;
    if (m.comm != nullptr) {
        cudaStreamSynchronize(m.comm_stream);
        ncclCommDestroy(m.comm);
    }
    cudaEventDestroy(m.ready);
    cudaEventDestroy(m.done);
    cudaStreamDestroy(m.comm_stream);
}

int NcclCollective::rank() const {
    return impl_->host.rank();
}

int NcclCollective::world() const {
    return impl_->host.world();
}

int NcclCollective::device() const {
    return impl_->device;
}

int64_t NcclCollective::num_buckets() const {
    return static_cast<int64_t>(impl_->buckets.size());
}

void NcclCollective::allreduce_sum(float* data, int64_t n) {
    impl_->host.allreduce_sum(data, n);
}

void NcclCollective::allreduce_sum(double* data, int64_t n) {
    impl_->host.allreduce_sum(data, n);
}

void NcclCollective::barrier() {
    impl_->host.barrier();
}

void NcclCollective::set_compute_stream(void* stream) {
    impl_->compute = static_cast<cudaStream_t>(stream);
}

void NcclCollective::begin(float* device_data, int64_t n) {
    Impl& m = *impl_;
    QF_CHECK(m.comm != nullptr, "NcclCollective: the communicator was aborted");
    QF_CHECK(m.data == nullptr, "NcclCollective::begin: the previous step was not finished");
    QF_CHECK(n >= 0 && (device_data != nullptr || n == 0),
             "NcclCollective::begin: bad buffer ({} floats at {})", n,
             static_cast<void*>(device_data));
    m.layout(n);
    for (auto& b : m.buckets) {
        b.ready = 0;
    }
    m.next_launch = 0;
    m.data = device_data;
}

void NcclCollective::mark_ready(int64_t offset, int64_t count) {
    Impl& m = *impl_;
    QF_CHECK(m.data != nullptr || m.n == 0, "NcclCollective::mark_ready before begin()");
    QF_CHECK(offset >= 0 && count >= 0 && offset + count <= m.n,
             "NcclCollective::mark_ready: range [{}, {}) is outside the buffer of {}", offset,
             offset + count, m.n);
    for (int64_t k = offset / m.bucket_elems;
         count > 0 && k <= (offset + count - 1) / m.bucket_elems; ++k) {
        auto& b = m.buckets[static_cast<std::size_t>(k)];
        const int64_t lo = std::max(offset, b.offset);
        const int64_t hi = std::min(offset + count, b.offset + b.count);
        b.ready += hi - lo;
        QF_CHECK(b.ready <= b.count,
                 "NcclCollective::mark_ready: bucket {} was marked ready more than once", k);
    }
    m.launch_ready();
}

void NcclCollective::finish() {
    Impl& m = *impl_;
    QF_CHECK(m.data != nullptr || m.n == 0, "NcclCollective::finish before begin()");
    for (auto& b : m.buckets) {
        b.ready = b.count;
    }
    m.launch_ready();
    QF_CUDA_CALL(cudaEventRecord(m.done, m.comm_stream));
    QF_CUDA_CALL(cudaStreamWaitEvent(m.compute, m.done, 0));
    m.data = nullptr;
}

void NcclCollective::wait() {
    Impl& m = *impl_;
    QF_CHECK(m.comm != nullptr, "NcclCollective: the communicator was aborted");
    const auto t0 = std::chrono::steady_clock::now();
    for (;;) {
        const cudaError_t q = cudaEventQuery(m.done);
        if (q == cudaSuccess) {
            return;
        }
        if (q != cudaErrorNotReady) {
            m.fail(fmt::format("CUDA error while waiting: {}", cudaGetErrorString(q)));
        }
        ncclResult_t async = ncclSuccess;
        QF_NCCL_CALL(m.comm, ncclCommGetAsyncError(m.comm, &async));
        if (async != ncclSuccess && async != ncclInProgress) {
            m.fail(fmt::format("asynchronous NCCL error: {} ({})", ncclGetErrorString(async),
                               ncclGetLastError(m.comm)));
        }
        const double waited =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (waited > m.options.timeout_s) {
            m.fail(fmt::format("not done after {:.0f} s (a rank died or hangs?)", waited));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

void NcclCollective::allreduce_gradients(float* device_data, int64_t n) {
    begin(device_data, n);
    finish();
    wait();
}

#else  // no CUDA in this build

struct NcclCollective::Impl {};

namespace {
[[noreturn]] void no_nccl() {
    QF_FAIL(
        "the NCCL transport needs a CUDA build of qforge (no nvcc was found at configure "
        "time); on CPUs use the MPI transport");
}
}  // namespace

NcclCollective::NcclCollective(MPI_Comm, NcclOptions) {
    no_nccl();
}

NcclCollective::~NcclCollective() = default;

int NcclCollective::rank() const {
    no_nccl();
}

int NcclCollective::world() const {
    no_nccl();
}

int NcclCollective::device() const {
    no_nccl();
}

int64_t NcclCollective::num_buckets() const {
    no_nccl();
}

void NcclCollective::allreduce_sum(float*, int64_t) {
    no_nccl();
}

void NcclCollective::allreduce_sum(double*, int64_t) {
    no_nccl();
}

void NcclCollective::barrier() {
    no_nccl();
}

void NcclCollective::set_compute_stream(void*) {
    no_nccl();
}

void NcclCollective::begin(float*, int64_t) {
    no_nccl();
}

void NcclCollective::mark_ready(int64_t, int64_t) {
    no_nccl();
}

void NcclCollective::finish() {
    no_nccl();
}

void NcclCollective::wait() {
    no_nccl();
}

void NcclCollective::allreduce_gradients(float*, int64_t) {
    no_nccl();
}

#endif

}  // namespace qforge::parallel
