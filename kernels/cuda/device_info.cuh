// What is here: what the launchers ask of the GPU they run on, asked once per process (qforge
// drives one device a process).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"

namespace qforge::kernels::cuda {

// The current device's SM count, for launchers that size a grid to one or a few waves.
inline int sm_count() {
    static const int count = [] {
        int dev = 0, n = 0;
        QF_CUDA_CHECK(cudaGetDevice(&dev));
        QF_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
        return n;
    }();
    return count;
}

}  // namespace qforge::kernels::cuda
