// What is here: GradientBucketer, which all-reduces a flat fp32 gradient buffer in buckets of
// a fixed byte size with MPI_Iallreduce, so a bucket can travel while backward still fills
// the others, and the optimizer waits for all of them in finish().
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <mpi.h>

namespace qforge::parallel {

// Which bucket goes on the wire first. MPI requires every rank to start its collectives on a
// communicator in the same order, so buckets are launched in one fixed order whatever order
// mark_ready() reports them in: a ready bucket waits until every bucket before it in this
// order has been launched. Backward produces the last layers' gradients first, hence kReverse.
enum class BucketOrder { kForward, kReverse };

class GradientBucketer {
public:
    // Buckets hold bucket_bytes / 4 floats (at least 1); the last one takes the remainder.
    GradientBucketer(MPI_Comm comm, int64_t n, std::size_t bucket_bytes,
                     BucketOrder order = BucketOrder::kForward);
    GradientBucketer(const GradientBucketer&) = delete;
    GradientBucketer& operator=(const GradientBucketer&) = delete;

    int64_t size() const { return n_; }

    int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }

    int64_t bucket_elems() const { return bucket_elems_; }

    // Starts a step on `data` (n floats, summed in place over the communicator).
    void begin(float* data);

    // Declares data[offset, offset + count) final for this step. Ranges must not overlap
    // within a step. Every bucket that becomes complete is launched (in bucket order).
    void mark_ready(int64_t offset, int64_t count);

    // Launches what is left, waits for every bucket: afterwards every rank holds the sums.
    void finish();

    // begin + mark_ready(0, n) + finish: the whole buffer at once, still in buckets.
    void allreduce(float* data);

private:
    struct Bucket {
        int64_t offset = 0, count = 0;
        int64_t ready = 0;                                // elements marked ready this step
        std::vector<std::pair<int64_t, int64_t>> marked;  // [lo, hi) ranges, to refuse overlaps
        MPI_Request request = MPI_REQUEST_NULL;
    };

    void launch_ready();
    void launch(Bucket& b);

    MPI_Comm comm_;
    int64_t n_;
    int64_t bucket_elems_;
    BucketOrder order_;
    std::vector<Bucket> buckets_;
    std::size_t next_launch_ = 0;  // position in launch order
    float* data_ = nullptr;
};

}  // namespace qforge::parallel
