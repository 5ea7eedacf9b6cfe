// What is here: rmsnorm_forward/backward on CUDA (kernels/cuda/pointwise.h). fp32 math; the
// CPU twin (kernels/cpu/rmsnorm.cpp) has the formulas.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

int row_threads(int64_t C) {
    return C >= 1024 ? 512 : (C >= 256 ? 256 : 64);
}

// one block per row; threads stride over C. out may alias inp (each element is read before
// the barrier inside block_sum and written by the thread that read it).
__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* inp,
                                       const float* weight, int64_t C, float eps) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    float sum_sq = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        sum_sq += x[c] * x[c];
    }
    sum_sq = block_sum(sum_sq, scratch);
    const float s = 1.0f / sqrtf(sum_sq / static_cast<float>(C) + eps);
    float* y = out + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        y[c] = x[c] * s * weight[c];
    }
    if (rstd != nullptr && threadIdx.x == 0) {
        rstd[n] = s;
    }
}

// one block per row; dinp += rstd * w * dy - x * rstd^3 / C * sum(dy * w * x)
__global__ void rmsnorm_backward_dinp_kernel(float* dinp, const float* dout, const float* inp,
                                             const float* weight, const float* rstd, int64_t C) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float* dy = dout + n * C;
    float dot = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        dot += dy[c] * weight[c] * x[c];
    }
    dot = block_sum(dot, scratch);
    const float s = rstd[n];
    const float coef = s * s * s * dot / static_cast<float>(C);
    float* dx = dinp + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        dx[c] += s * weight[c] * dy[c] - x[c] * coef;
    }
}

constexpr int kColumns = 32;   // channels per block of the dweight reduction
constexpr int kRowLanes = 16;  // row strides per block

// block (32, 16) per 32 channels: threadIdx.y strides over rows, then a fixed-order sum over y
__global__ void rmsnorm_backward_dweight_kernel(float* dweight, const float* dout, const float* inp,
                                                const float* rstd, int64_t N, int64_t C) {
    __shared__ float part[kRowLanes][kColumns];
    const int64_t c = blockIdx.x * static_cast<int64_t>(kColumns) + threadIdx.x;
    float acc = 0.0f;
    if (c < C) {
        for (int64_t n = threadIdx.y; n < N; n += kRowLanes) {
            acc += dout[n * C + c] * inp[n * C + c] * rstd[n];
        }
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float total = 0.0f;
        for (int y = 0; y < kRowLanes; y++) {
            total += part[y][threadIdx.x];
        }
        dweight[c] += total;
    }
}

}  // namespace

void rmsnorm_forward(void* stream, float* out, float* rstd, const float* inp, const float* weight,
                     int64_t N, int64_t C, float eps) {
    if (N == 0) {
        return;
    }
    rmsnorm_forward_kernel<<<static_cast<unsigned>(N), row_threads(C), 0,
                             static_cast<cudaStream_t>(stream)>>>(out, rstd, inp, weight, C, eps);
    QF_CUDA_LAUNCH_CHECK();
}

void rmsnorm_backward(void* stream, float* dinp, float* dweight, const float* dout,
                      const float* inp, const float* weight, const float* rstd, int64_t N,
                      int64_t C) {
    if (N == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    if (dinp != nullptr) {
        rmsnorm_backward_dinp_kernel<<<static_cast<unsigned>(N), row_threads(C), 0, s>>>(
            dinp, dout, inp, weight, rstd, C);
        QF_CUDA_LAUNCH_CHECK();
    }
    if (dweight != nullptr) {
        rmsnorm_backward_dweight_kernel<<<blocks_for(C, kColumns), dim3(kColumns, kRowLanes), 0,
                                          s>>>(dweight, dout, inp, rstd, N, C);
        QF_CUDA_LAUNCH_CHECK();
    }
}

}  // namespace qforge::kernels::cuda
