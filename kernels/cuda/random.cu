// What is here: random_normal on CUDA (kernels/cuda/pointwise.h): hash::normal_value
// (kernels/counter_hash.h), the function the CPU calls, evaluated per element in double.
#include "kernels/counter_hash.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// one thread per element (grid-stride)
__global__ void random_normal_kernel(float* out, int64_t n, float stddev, uint64_t seed,
                                     uint64_t key) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        out[i] = hash::normal_value(seed, key, i, stddev);
    }
}

}  // namespace

void random_normal(void* stream, float* out, int64_t n, float stddev, uint64_t seed, uint64_t key) {
    if (n == 0) {
        return;
    }
    const unsigned grid = grid_stride_blocks(n, kThreads);
    random_normal_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(out, n, stddev,
                                                                                   seed, key);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
