// What is here: fill_f32, the smallest kernel of the backend; it also proves the .cu build.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"

namespace qforge::kernels::cuda {

namespace {
__global__ void fill_kernel(float* out, int64_t n, float value) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < n) {
        out[i] = value;
    }
}
}  // namespace

void fill_f32(void* stream, float* out, int64_t n, float value) {
    if (n == 0) {
        return;
    }
    const int threads = 256;
    const auto blocks = static_cast<unsigned>((n + threads - 1) / threads);
    fill_kernel<<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(out, n, value);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
