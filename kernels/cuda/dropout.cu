// What is here: dropout_forward/backward on CUDA (kernels/cuda/pointwise.h). The mask is
// hash::dropout_keep (kernels/counter_hash.h), the same function the CPU uses, so it is bit for
// bit the CPU's; kept values are multiplied by the same fp32 scale.
#include "kernels/counter_hash.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// one thread per element (grid-stride); out may alias inp
__global__ void dropout_forward_kernel(float* out, const float* inp, int64_t n, float p,
                                       float scale, uint64_t seed, uint64_t key) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        out[i] = hash::dropout_keep(seed, key, i, p) ? __fmul_rn(inp[i], scale) : 0.0f;
    }
}

// one thread per element (grid-stride); dinp accumulates through the same mask
__global__ void dropout_backward_kernel(float* dinp, const float* dout, int64_t n, float p,
                                        float scale, uint64_t seed, uint64_t key) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        if (hash::dropout_keep(seed, key, i, p)) {
            dinp[i] = __fadd_rn(dinp[i], __fmul_rn(dout[i], scale));
        }
    }
}

}  // namespace

void dropout_forward(void* stream, float* out, const float* inp, int64_t n, float p, float scale,
                     uint64_t seed, uint64_t key) {
    if (n == 0) {
        return;
    }
    dropout_forward_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0,
                             static_cast<cudaStream_t>(stream)>>>(out, inp, n, p, scale, seed, key);
    QF_CUDA_LAUNCH_CHECK();
}

void dropout_backward(void* stream, float* dinp, const float* dout, int64_t n, float p, float scale,
                      uint64_t seed, uint64_t key) {
    if (n == 0) {
        return;
    }
    dropout_backward_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0,
                              static_cast<cudaStream_t>(stream)>>>(dinp, dout, n, p, scale, seed,
                                                                   key);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
