// What is here: the two small kernels linear needs besides gemm (kernels/cuda/dense.h):
// bias_add_rows and bias_grad. The dispatcher in kernels/linear.cpp does the matmuls.
#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/dense.h"

namespace qforge::kernels::cuda {

namespace {

// One thread per element of out (N,OC).
__global__ void bias_add_kernel(float* out, const float* bias, int64_t N, int64_t OC) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < N * OC) {
        out[i] += bias[i % OC];
    }
}

constexpr int kBiasCols = 32;  // columns per block: one per lane, coalesced rows
constexpr int kBiasRows = 8;   // warps per block, each summing every 8th row

// Block (32, 8) owns 32 columns; warp y sums rows y, y+8, ... and the 8 partial sums are added
// in shared memory, in a fixed order (deterministic).
__global__ void bias_grad_kernel(float* dbias, const float* dout, int64_t N, int64_t OC) {
    __shared__ float partial[kBiasRows][kBiasCols];
    const int64_t col = blockIdx.x * static_cast<int64_t>(kBiasCols) + threadIdx.x;
    float sum = 0.0f;
    if (col < OC) {
        for (int64_t n = threadIdx.y; n < N; n += kBiasRows) {
            sum += dout[n * OC + col];
        }
    }
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && col < OC) {
        float total = 0.0f;
        for (int r = 0; r < kBiasRows; r++) {
            total += partial[r][threadIdx.x];
        }
        dbias[col] += total;
    }
}

}  // namespace

void bias_add_rows(void* stream, float* out, const float* bias, int64_t N, int64_t OC) {
    if (N == 0) {
        return;
    }
    const auto blocks = static_cast<unsigned>((N * OC + 255) / 256);
    bias_add_kernel<<<blocks, 256, 0, static_cast<cudaStream_t>(stream)>>>(out, bias, N, OC);
    QF_CUDA_LAUNCH_CHECK();
}

void bias_grad(void* stream, float* dbias, const float* dout, int64_t N, int64_t OC) {
    const auto blocks = static_cast<unsigned>((OC + kBiasCols - 1) / kBiasCols);
    bias_grad_kernel<<<blocks, dim3(kBiasCols, kBiasRows), 0, static_cast<cudaStream_t>(stream)>>>(
        dbias, dout, N, OC);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
