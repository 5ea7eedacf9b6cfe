// What is here: swiglu_forward/backward on CUDA (kernels/cuda/pointwise.h), fp32 math.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__device__ inline float sigmoidf(float x) {
    return 1.0f / (1.0f + expf(-x));
}

// one thread per element (grid-stride); out may alias gate or up
__global__ void swiglu_forward_kernel(float* out, const float* gate, const float* up, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float g = gate[i];
        out[i] = g * sigmoidf(g) * up[i];
    }
}

// one thread per element (grid-stride); dgate, dup accumulate, either may be nullptr
__global__ void swiglu_backward_kernel(float* dgate, float* dup, const float* dout,
                                       const float* gate, const float* up, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float g = gate[i];
        const float sg = sigmoidf(g);
        const float dy = dout[i];
        if (dgate != nullptr) {
            dgate[i] += dy * up[i] * sg * (1.0f + g * (1.0f - sg));
        }
        if (dup != nullptr) {
            dup[i] += dy * g * sg;
        }
    }
}

}  // namespace

void swiglu_forward(void* stream, float* out, const float* gate, const float* up, int64_t n) {
    if (n == 0) {
        return;
    }
    swiglu_forward_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0,
                            static_cast<cudaStream_t>(stream)>>>(out, gate, up, n);
    QF_CUDA_LAUNCH_CHECK();
}

void swiglu_backward(void* stream, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n) {
    if (n == 0 || (dgate == nullptr && dup == nullptr)) {
        return;
    }
    swiglu_backward_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0,
                             static_cast<cudaStream_t>(stream)>>>(dgate, dup, dout, gate, up, n);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
