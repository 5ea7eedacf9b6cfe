// What is here: version 1 of the RMSNorm kernels for bench/norm_rope_cuda_bench.cpp: the
// kernels of kernels/cuda/rmsnorm.cu as they were at ff9b6cf (one block per row, a strided sum
// pass, then a second pass over the row), kept so that before and after run in one binary. Plain
// launchers: this file includes no qforge header that pulls in fmt (nvcc cannot compile it).
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/reduce.cuh"

namespace k = qforge::kernels;

namespace {

int v1_row_threads(int64_t C) {
    return C >= 1024 ? 512 : (C >= 256 ? 256 : 64);
}

__device__ inline float v1_row_rstd(const float* x, int64_t C, float eps, float* scratch) {
    float sum_sq = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        sum_sq += x[c] * x[c];
    }
    sum_sq = k::cuda::block_sum(sum_sq, scratch);
    return 1.0f / sqrtf(sum_sq / static_cast<float>(C) + eps);
}

__device__ inline uint32_t v1_bf16_bits(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

__global__ void v1_forward_bf16(uint16_t* out, int64_t ld_out, float* rstd, const float* inp,
                                const float* weight, int64_t C, float eps) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float s = v1_row_rstd(x, C, eps, scratch);
    uint16_t* y = out + n * ld_out;
    const auto* x4 = reinterpret_cast<const float4*>(x);
    const auto* w4 = reinterpret_cast<const float4*>(weight);
    for (int64_t q = threadIdx.x; q < C / 4; q += blockDim.x) {
        const float4 v = x4[q];
        const float4 w = __ldg(w4 + q);
        uint2 packed;
        packed.x = v1_bf16_bits(v.x * s * w.x) | (v1_bf16_bits(v.y * s * w.y) << 16);
        packed.y = v1_bf16_bits(v.z * s * w.z) | (v1_bf16_bits(v.w * s * w.w) << 16);
        *reinterpret_cast<uint2*>(y + 4 * q) = packed;
    }
    if (rstd != nullptr && threadIdx.x == 0) {
        rstd[n] = s;
    }
}

__global__ void v1_backward_dinp(float* dinp, const float* dout, const float* inp,
                                 const float* weight, const float* rstd, int64_t C) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float* dy = dout + n * C;
    float dot = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        dot += dy[c] * weight[c] * x[c];
    }
    dot = k::cuda::block_sum(dot, scratch);
    const float s = rstd[n];
    const float coef = s * s * s * dot / static_cast<float>(C);
    float* dx = dinp + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        dx[c] += s * weight[c] * dy[c] - x[c] * coef;
    }
}

}  // namespace

// rmsnorm_forward_bf16 (float4 path: C % 4 == 0, ld_out % 4 == 0, aligned pointers) and the
// dinp kernel of rmsnorm_backward, as they were; a launch error is returned, not thrown.
cudaError_t v1_rmsnorm_forward_bf16(uint16_t* out, int64_t ld_out, float* rstd, const float* inp,
                                    const float* weight, int64_t N, int64_t C, float eps) {
    v1_forward_bf16<<<static_cast<unsigned>(N), v1_row_threads(C)>>>(out, ld_out, rstd, inp, weight,
                                                                     C, eps);
    return cudaGetLastError();
}

cudaError_t v1_rmsnorm_backward_dinp(float* dinp, const float* dout, const float* inp,
                                     const float* weight, const float* rstd, int64_t N, int64_t C) {
    v1_backward_dinp<<<static_cast<unsigned>(N), v1_row_threads(C)>>>(dinp, dout, inp, weight, rstd,
                                                                      C);
    return cudaGetLastError();
}
