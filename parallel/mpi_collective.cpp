// What is here: MpiSession, MpiCollective, rank_and_host (see mpi_collective.h, mpi_check.h).
#include "parallel/mpi_collective.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <unistd.h>

#include <mpi.h>

#include "parallel/mpi_check.h"

namespace qforge::parallel {

namespace {
std::string hostname() {
    char buf[256] = {};
    ::gethostname(buf, sizeof(buf) - 1);
    return buf;
}

bool mpi_ready() {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}
}  // namespace

std::string rank_and_host() {
    int rank = -1;
    if (mpi_ready()) {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    }
    return rank >= 0 ? "rank " + std::to_string(rank) + " on " + hostname()
                     : "rank ? on " + hostname();
}

void mpi_fail(int code, const char* call, const char* file, int line) {
    char text[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(code, text, &len);
    throw_error(file, line, fmt::format("{}: {} failed: {}", rank_and_host(), call, text));
}

bool launched_by_mpi() {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"}) {
        if (std::getenv(var) != nullptr) {
            return true;
        }
    }
    const char* ntasks = std::getenv("SLURM_NTASKS");
    return std::getenv("SLURM_PROCID") != nullptr && ntasks != nullptr && std::atoi(ntasks) > 1;
}

MpiSession::MpiSession(int* argc, char*** argv, bool thread_multiple) {
    int provided = 0;
    QF_MPI_CHECK(MPI_Init_thread(
        argc, argv, thread_multiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED, &provided));
    thread_multiple_ = provided >= MPI_THREAD_MULTIPLE;
    QF_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    QF_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &topology_.rank));
    QF_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &topology_.world));
    MPI_Comm local;
    QF_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, topology_.rank,
                                     MPI_INFO_NULL, &local));
    QF_MPI_CHECK(MPI_Comm_rank(local, &topology_.local_rank));
    QF_MPI_CHECK(MPI_Comm_size(local, &topology_.local_world));
    QF_MPI_CHECK(MPI_Comm_free(&local));
    topology_.host = hostname();
}

MpiSession::~MpiSession() {
    if (mpi_ready()) {
        MPI_Finalize();
    }
}

void MpiSession::abort_job(int code) {
    if (mpi_ready()) {
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    std::exit(code);
}

std::size_t bucket_bytes_from_mb(double mb) {
    QF_CHECK(mb > 0 && mb <= 4096, "distributed.bucket_mb must be > 0 and <= 4096, got {}", mb);
    const double floats = std::floor(mb * double(1 << 20) / sizeof(float));
    return std::max<std::size_t>(1, static_cast<std::size_t>(floats)) * sizeof(float);
}

MpiCollective::MpiCollective() : MpiCollective(MPI_COMM_WORLD) {}

MpiCollective::MpiCollective(MPI_Comm comm, std::size_t bucket_bytes)
    : comm_(comm), bucket_bytes_(bucket_bytes) {
    QF_CHECK(mpi_ready(), "MpiCollective needs MPI to be initialised (MpiSession)");
    QF_CHECK(comm != MPI_COMM_NULL, "MpiCollective: null communicator");
    QF_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    QF_MPI_CHECK(MPI_Comm_size(comm_, &world_));
}

// MPI counts are int: large buffers go in pieces.
void MpiCollective::allreduce_sum(float* data, int64_t n) {
    for (int64_t off = 0; off < n; off += INT_MAX) {
        const int count = static_cast<int>(std::min<int64_t>(INT_MAX, n - off));
        QF_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_FLOAT, MPI_SUM, comm_));
    }
}

void MpiCollective::allreduce_sum(double* data, int64_t n) {
    for (int64_t off = 0; off < n; off += INT_MAX) {
        const int count = static_cast<int>(std::min<int64_t>(INT_MAX, n - off));
        QF_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_DOUBLE, MPI_SUM, comm_));
    }
}

void MpiCollective::allreduce_gradients(float* data, int64_t n) {
    if (!buckets_ || buckets_->size() != n) {
        // Last bucket first: backward finalises the last layers' gradients first.
        buckets_ =
            std::make_unique<GradientBucketer>(comm_, n, bucket_bytes_, BucketOrder::kReverse);
    }
    if (!device_buffers_) {
        buckets_->allreduce(data);
        return;
    }
    if (!staging_) {
        staging_ = std::make_unique<PinnedStaging>();
    }
    buckets_->allreduce(staging_->from_device(data, n));
    staging_->to_device(data, n);
}

void MpiCollective::begin_gradients(float* data, int64_t n) {
    if (device_buffers_) {
        Collective::begin_gradients(data, n);  // summed whole in finish_gradients
        return;
    }
    if (!buckets_ || buckets_->size() != n) {
        buckets_ =
            std::make_unique<GradientBucketer>(comm_, n, bucket_bytes_, BucketOrder::kReverse);
    }
    buckets_->begin(data);
    overlapping_ = true;
}

void MpiCollective::gradients_ready(int64_t offset, int64_t count) {
    if (overlapping_) {
        buckets_->mark_ready(offset, count);
    }
}

void MpiCollective::finish_gradients() {
    if (!overlapping_) {
        Collective::finish_gradients();
        return;
    }
    overlapping_ = false;
    buckets_->finish();
}

void MpiCollective::barrier() {
    QF_MPI_CHECK(MPI_Barrier(comm_));
}

}  // namespace qforge::parallel
