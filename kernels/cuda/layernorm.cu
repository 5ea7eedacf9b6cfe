// What is here: layernorm_forward/backward on CUDA (kernels/cuda/pointwise.h). fp32 math, two
// passes for the variance (exact when |mean| >> std); the CPU twin (kernels/cpu/layernorm.cpp)
// has the formulas.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

int row_threads(int64_t C) {
    return C >= 1024 ? 512 : (C >= 256 ? 256 : 64);
}

// one block per row; threads stride over C. out may alias inp (all reads of a row happen
// before the last barrier, and each element is written by the thread that read it).
__global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* inp,
                                         const float* weight, const float* bias, int64_t C,
                                         float eps) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    float sum = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        sum += x[c];
    }
    const float m = block_sum(sum, scratch) / static_cast<float>(C);
    float sum_sq = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float d = x[c] - m;
        sum_sq += d * d;
    }
    const float s = 1.0f / sqrtf(block_sum(sum_sq, scratch) / static_cast<float>(C) + eps);
    float* y = out + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float b = bias != nullptr ? bias[c] : 0.0f;
        y[c] = (x[c] - m) * s * weight[c] + b;
    }
    if (threadIdx.x == 0) {
        if (mean != nullptr) {
            mean[n] = m;
        }
        if (rstd != nullptr) {
            rstd[n] = s;
        }
    }
}

// one block per row; dinp += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
__global__ void layernorm_backward_dinp_kernel(float* dinp, const float* dout, const float* inp,
                                               const float* weight, const float* mean,
                                               const float* rstd, int64_t C) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float* dy = dout + n * C;
    const float m = mean[n], s = rstd[n];
    float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float dxhat = dy[c] * weight[c];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * (x[c] - m) * s;
    }
    const float mean_dxhat = block_sum(sum_dxhat, scratch) / static_cast<float>(C);
    const float mean_dxhat_xhat = block_sum(sum_dxhat_xhat, scratch) / static_cast<float>(C);
    float* dx = dinp + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float dxhat = dy[c] * weight[c];
        const float xhat = (x[c] - m) * s;
        dx[c] += s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
    }
}

constexpr int kColumns = 32;   // channels per block of the dweight/dbias reduction
constexpr int kRowLanes = 16;  // row strides per block

// block (32, 16) per 32 channels: threadIdx.y strides over rows, then a fixed-order sum over y
__global__ void layernorm_backward_dparams_kernel(float* dweight, float* dbias, const float* dout,
                                                  const float* inp, const float* mean,
                                                  const float* rstd, int64_t N, int64_t C) {
    __shared__ float part_w[kRowLanes][kColumns];
    __shared__ float part_b[kRowLanes][kColumns];
    const int64_t c = blockIdx.x * static_cast<int64_t>(kColumns) + threadIdx.x;
    float acc_w = 0.0f, acc_b = 0.0f;
    if (c < C) {
        for (int64_t n = threadIdx.y; n < N; n += kRowLanes) {
            const float dy = dout[n * C + c];
            acc_w += dy * (inp[n * C + c] - mean[n]) * rstd[n];
            acc_b += dy;
        }
    }
    part_w[threadIdx.y][threadIdx.x] = acc_w;
    part_b[threadIdx.y][threadIdx.x] = acc_b;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float total_w = 0.0f, total_b = 0.0f;
        for (int y = 0; y < kRowLanes; y++) {
            total_w += part_w[y][threadIdx.x];
            total_b += part_b[y][threadIdx.x];
        }
        if (dweight != nullptr) {
            dweight[c] += total_w;
        }
        if (dbias != nullptr) {
            dbias[c] += total_b;
        }
    }
}

}  // namespace

void layernorm_forward(void* stream, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int64_t N, int64_t C, float eps) {
    if (N == 0) {
        return;
    }
    layernorm_forward_kernel<<<static_cast<unsigned>(N), row_threads(C), 0,
                               static_cast<cudaStream_t>(stream)>>>(out, mean, rstd, inp, weight,
                                                                    bias, C, eps);
    QF_CUDA_LAUNCH_CHECK();
}

void layernorm_backward(void* stream, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int64_t N, int64_t C) {
    if (N == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    if (dinp != nullptr) {
        layernorm_backward_dinp_kernel<<<static_cast<unsigned>(N), row_threads(C), 0, s>>>(
            dinp, dout, inp, weight, mean, rstd, C);
        QF_CUDA_LAUNCH_CHECK();
    }
    if (dweight != nullptr || dbias != nullptr) {
        layernorm_backward_dparams_kernel<<<blocks_for(C, kColumns), dim3(kColumns, kRowLanes), 0,
                                            s>>>(dweight, dbias, dout, inp, mean, rstd, N, C);
        QF_CUDA_LAUNCH_CHECK();
    }
}

}  // namespace qforge::kernels::cuda
