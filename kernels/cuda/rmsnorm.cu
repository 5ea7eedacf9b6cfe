// What is here: rmsnorm_forward/backward on CUDA (kernels/cuda/pointwise.h). fp32 math; the
// CPU twin (kernels/cpu/rmsnorm.cpp) has the formulas. rmsnorm_forward_bf16 shares the row sum
// (row_rstd) and the value (x * s * w) with rmsnorm_forward, so its rstd and its values before
// rounding (__float2bfloat16_rn) are rmsnorm_forward's bit for bit.
#include <cstdint>

#include <cuda_bf16.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

int row_threads(int64_t C) {
    return C >= 1024 ? 512 : (C >= 256 ? 256 : 64);
}

// 1 / sqrt(mean(x^2) + eps) of one row, on every thread of the block (threads stride over C).
__device__ inline float row_rstd(const float* x, int64_t C, float eps, float* scratch) {
    float sum_sq = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        sum_sq += x[c] * x[c];
    }
    sum_sq = block_sum(sum_sq, scratch);
    return 1.0f / sqrtf(sum_sq / static_cast<float>(C) + eps);
}

__device__ inline uint32_t bf16_bits(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// one block per row; threads stride over C. out may alias inp (each element is read before
// the barrier inside block_sum and written by the thread that read it).
__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* inp,
                                       const float* weight, int64_t C, float eps) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float s = row_rstd(x, C, eps, scratch);
    float* y = out + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        y[c] = x[c] * s * weight[c];
    }
    if (rstd != nullptr && threadIdx.x == 0) {
        rstd[n] = s;
    }
}

// one block per row, as rmsnorm_forward_kernel; the second pass reads (L1/L2-resident) row again
// as float4 when Vec4 (C % 4 == 0, inp and weight 16-byte, out rows 8-byte aligned).
template <bool Vec4>
__global__ void rmsnorm_forward_bf16_kernel(uint16_t* out, int64_t ld_out, float* rstd,
                                            const float* inp, const float* weight, int64_t C,
                                            float eps) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float s = row_rstd(x, C, eps, scratch);
    uint16_t* y = out + n * ld_out;
    if constexpr (Vec4) {
        const auto* x4 = reinterpret_cast<const float4*>(x);
        const auto* w4 = reinterpret_cast<const float4*>(weight);
        for (int64_t q = threadIdx.x; q < C / 4; q += blockDim.x) {
            const float4 v = x4[q];
            const float4 w = __ldg(w4 + q);
            uint2 packed;
            packed.x = bf16_bits(v.x * s * w.x) | (bf16_bits(v.y * s * w.y) << 16);
            packed.y = bf16_bits(v.z * s * w.z) | (bf16_bits(v.w * s * w.w) << 16);
            *reinterpret_cast<uint2*>(y + 4 * q) = packed;
        }
    } else {
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            y[c] = static_cast<uint16_t>(bf16_bits(x[c] * s * weight[c]));
        }
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

void rmsnorm_forward_bf16(void* stream, uint16_t* out, int64_t ld_out, float* rstd,
                          const float* inp, const float* weight, int64_t N, int64_t C, float eps) {
    if (N == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    const bool vec = C % 4 == 0 && ld_out % 4 == 0 && reinterpret_cast<uintptr_t>(inp) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(weight) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(out) % 8 == 0;
    const auto grid = static_cast<unsigned>(N);
    if (vec) {
        rmsnorm_forward_bf16_kernel<true>
            <<<grid, row_threads(C), 0, s>>>(out, ld_out, rstd, inp, weight, C, eps);
    } else {
        rmsnorm_forward_bf16_kernel<false>
            <<<grid, row_threads(C), 0, s>>>(out, ld_out, rstd, inp, weight, C, eps);
    }
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
