// What is here: gelu_forward/backward (exact, erf) on CUDA (kernels/cuda/pointwise.h), fp32.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// one thread per element (grid-stride); out may alias inp
__global__ void gelu_forward_kernel(float* out, const float* inp, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * kInvSqrt2));
    }
}

// one thread per element (grid-stride); dinp accumulates
__global__ void gelu_backward_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float x = inp[i];
        const float cdf = 0.5f * (1.0f + erff(x * kInvSqrt2));
        const float pdf = expf(-0.5f * x * x) * kInvSqrt2Pi;
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

}  // namespace

void gelu_forward(void* stream, float* out, const float* inp, int64_t n) {
    if (n == 0) {
        return;
    }
    gelu_forward_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0,
                          static_cast<cudaStream_t>(stream)>>>(out, inp, n);
    QF_CUDA_LAUNCH_CHECK();
}

void gelu_backward(void* stream, float* dinp, const float* dout, const float* inp, int64_t n) {
    if (n == 0) {
        return;
    }
    gelu_backward_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0,
                           static_cast<cudaStream_t>(stream)>>>(dinp, dout, inp, n);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
