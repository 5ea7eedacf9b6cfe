// What is here: the little GPU memory handling parallel/ needs, behind a CUDA-free header (the
// layer compiles the CUDA side only with QFORGE_HAS_CUDA): whether CUDA is built and how many
// GPUs this process sees, device float buffers (tests, bench) and pinned host staging buffers
// (the MPI transport reducing GPU gradients). Without CUDA every constructor throws.
#pragma once

#include <cstdint>

namespace qforge::parallel {

// True when qforge was built with CUDA and NCCL (the NCCL transport exists).
bool cuda_built();

// GPUs visible to this process; 0 without CUDA, without a driver or without a GPU.
int cuda_device_count();

// n floats in GPU memory of the current device (cudaMalloc), freed by the destructor.
class DeviceFloats {
public:
    explicit DeviceFloats(int64_t n);
    ~DeviceFloats();
    DeviceFloats(const DeviceFloats&) = delete;
    DeviceFloats& operator=(const DeviceFloats&) = delete;

    float* data() const { return data_; }

    int64_t size() const { return n_; }

    void upload(const float* host);    // n floats, synchronous
    void download(float* host) const;  // n floats, synchronous

private:
    float* data_ = nullptr;
    int64_t n_ = 0;
};

// A growable pinned host buffer (cudaMallocHost), for fast device <-> host staging.
class PinnedStaging {
public:
    PinnedStaging() = default;
    ~PinnedStaging();
    PinnedStaging(const PinnedStaging&) = delete;
    PinnedStaging& operator=(const PinnedStaging&) = delete;

    // Copies n floats from device memory into the staging buffer (grown as needed) and
    // returns it; the copy has finished when this returns.
    float* from_device(const float* device, int64_t n);

    // Copies n floats of the staging buffer back to `device`; finished when this returns.
    void to_device(float* device, int64_t n) const;

private:
    float* host_ = nullptr;
    int64_t capacity_ = 0;
};

}  // namespace qforge::parallel
