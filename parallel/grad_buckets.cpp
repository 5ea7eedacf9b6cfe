// What is here: GradientBucketer (see grad_buckets.h).
//
// A bucket is a contiguous slice of the flat gradient buffer. It is reduced in place with
// MPI_Iallreduce(MPI_IN_PLACE, ..., MPI_SUM), so no staging copy is needed; the request is
// kept until finish(). Fp32 sums of real gradients depend on the reduction order MPI picks,
// but for a given bucket layout and world size every rank receives the same bits.
#include "parallel/grad_buckets.h"

#include <algorithm>
#include <climits>

#include "kernels/common.h"
#include "parallel/mpi_check.h"

namespace qforge::parallel {

GradientBucketer::GradientBucketer(MPI_Comm comm, int64_t n, std::size_t bucket_bytes,
                                   BucketOrder order)
    : comm_(comm), n_(n), order_(order) {
    QF_CHECK(n >= 0, "GradientBucketer: buffer size must be >= 0, got {}", n);
    bucket_elems_ = std::max<int64_t>(1, static_cast<int64_t>(bucket_bytes / sizeof(float)));
    bucket_elems_ = std::min<int64_t>(bucket_elems_, INT_MAX);  // MPI counts are int
    for (int64_t off = 0; off < n; off += bucket_elems_) {
        Bucket b;
        b.offset = off;
        b.count = std::min(bucket_elems_, n - off);
        buckets_.push_back(b);
    }
}

void GradientBucketer::begin(float* data) {
    QF_CHECK(data != nullptr || n_ == 0, "GradientBucketer::begin: null buffer");
    for (const Bucket& b : buckets_) {
        QF_CHECK(b.request == MPI_REQUEST_NULL,
                 "GradientBucketer::begin: the previous step was not finished");
    }
    for (Bucket& b : buckets_) {
        b.ready = 0;
        b.marked.clear();
    }
    next_launch_ = 0;
    data_ = data;
}

void GradientBucketer::mark_ready(int64_t offset, int64_t count) {
    QF_CHECK(data_ != nullptr || n_ == 0, "GradientBucketer::mark_ready before begin()");
    QF_CHECK(offset >= 0 && count >= 0 && offset + count <= n_,
             "GradientBucketer::mark_ready: range [{}, {}) is outside the buffer of {}", offset,
             offset + count, n_);
    // Check every bucket the range touches before crediting any, so a refused range
    // leaves the step as it was.
    const int64_t first = count > 0 ? offset / bucket_elems_ : num_buckets();
    const int64_t last = count > 0 ? (offset + count - 1) / bucket_elems_ : -1;
    for (int pass = 0; pass < 2; ++pass) {
        for (int64_t k = first; k <= last; ++k) {
            Bucket& b = buckets_[static_cast<std::size_t>(k)];
            const int64_t lo = std::max(offset, b.offset);
            const int64_t hi = std::min(offset + count, b.offset + b.count);
            if (pass == 1) {
                b.marked.emplace_back(lo, hi);
                b.ready += hi - lo;
                continue;
            }
            for (const auto& [mlo, mhi] : b.marked) {
                QF_CHECK(hi <= mlo || lo >= mhi,
                         "GradientBucketer::mark_ready: [{}, {}) was marked ready more than once "
                         "this step (it overlaps [{}, {}))",
                         lo, hi, mlo, mhi);
            }
        }
    }
    launch_ready();
}

void GradientBucketer::launch(Bucket& b) {
    QF_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data_ + b.offset, static_cast<int>(b.count),
                                MPI_FLOAT, MPI_SUM, comm_, &b.request));
}

// Launches, in the fixed bucket order, every bucket that is complete and whose predecessors
// have all been launched.
void GradientBucketer::launch_ready() {
    while (next_launch_ < buckets_.size()) {
        const std::size_t k =
            order_ == BucketOrder::kForward ? next_launch_ : buckets_.size() - 1 - next_launch_;
        Bucket& b = buckets_[k];
        if (b.ready != b.count) {
            return;
        }
        launch(b);
        ++next_launch_;
    }
}

void GradientBucketer::finish() {
    QF_CHECK(data_ != nullptr || n_ == 0, "GradientBucketer::finish before begin()");
    for (Bucket& b : buckets_) {
        b.ready = b.count;  // what was not marked is taken as final now
    }
    launch_ready();
    for (Bucket& b : buckets_) {
        QF_MPI_CHECK(MPI_Wait(&b.request, MPI_STATUS_IGNORE));
    }
    data_ = nullptr;
}

void GradientBucketer::allreduce(float* data) {
    begin(data);
    mark_ready(0, n_);
    finish();
}

}  // namespace qforge::parallel
