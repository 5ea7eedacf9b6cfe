// What is here: the collective operations the trainer needs, as an interface, so that
// runtime/ stays below parallel/: parallel/ implements it with MPI (CPU) or NCCL (GPU) and
// the launcher hands one in. LocalCollective is the single-process case.
#pragma once

#include <cstdint>

namespace qforge::train {

class Collective {
public:
    virtual ~Collective() = default;
    virtual int rank() const = 0;
    virtual int world() const = 0;
    // In-place sums over all ranks; every rank ends with the same values.
    virtual void allreduce_sum(float* data, int64_t n) = 0;
    virtual void allreduce_sum(double* data, int64_t n) = 0;

    // The gradient sum of a training step. A transport may split it into buckets
    // (parallel::GradientBucketer); the result is the same sum as allreduce_sum.
    virtual void allreduce_gradients(float* data, int64_t n) { allreduce_sum(data, n); }

    // The same sum, overlapped with backward: begin_gradients before the backward that
    // finalises the gradients, gradients_ready(offset, count) as backward finishes each slice
    // (a transport may launch full buckets at once), finish_gradients afterwards; then data
    // holds the sum (on a GPU: for work queued after it on the compute stream). A transport
    // without overlap sums everything in finish_gradients.
    virtual void begin_gradients(float* data, int64_t n) {
        pending_ = data;
        pending_n_ = n;
    }

    virtual void gradients_ready(int64_t offset, int64_t count) {
        (void)offset;
        (void)count;
    }

    virtual void finish_gradients() { allreduce_gradients(pending_, pending_n_); }

    // True when allreduce_gradients takes GPU memory (NCCL, or MPI staging it through the
    // host); otherwise the trainer stages GPU gradients itself.
    virtual bool accepts_device_buffers() const { return false; }

    virtual void barrier() = 0;

private:
    float* pending_ = nullptr;
    int64_t pending_n_ = 0;
};

class LocalCollective final : public Collective {
public:
    int rank() const override { return 0; }

    int world() const override { return 1; }

    void allreduce_sum(float*, int64_t) override {}

    void allreduce_sum(double*, int64_t) override {}

    void barrier() override {}
};

}  // namespace qforge::train
