// What is here: the rank-r ("thin") LoRA products of the fused projection
// (runtime/model/lora_fused.cpp), where one operand is a big bf16 activation and the other a
// rank-R factor: lora_down_bf16 (u = x A^T, dU = dy (sB)) and lora_grad_bf16 (dA += dU^T x,
// dB += s dy^T u). On CUDA they are our own tensor-core kernels that read the big operand once
// (kernels/cuda/lora_thin.cu); cuBLASLt runs these shapes at a fraction of HBM speed. bf16 values
// travel as their 16 bits (uint16_t), row-major, products and sums in fp32 (the CPU reference
// sums in double).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// The largest R the CUDA kernels take; above it the CUDA backend calls cuBLASLt (gemm_bf16).
inline constexpr int64_t kLoraThinMaxRank = 64;

// v[n][j] = alpha * sum_{k<K} x[n*ldx + k] * w[j*w_stride_r + k*w_stride_k]   (n < N, j < R)
// Written (not +=): y[n*ldy + j] = v (fp32, may be nullptr) and y16[n*ldy16 + j] = bf16(v), round
// to nearest even (may be nullptr); at least one output. K == 0 writes zeros. The rest of each
// output row is left as it is. x is (N, K) with row stride ldx >= K; w is (R, K) through two
// strides (packed A rows: w_stride_r = ld, w_stride_k = 1; packed sB columns: 1 and ld).
void lora_down_bf16(const Ctx& ctx, int64_t N, int64_t K, int64_t R, const uint16_t* x, int64_t ldx,
                    const uint16_t* w, int64_t w_stride_r, int64_t w_stride_k, float alpha,
                    float* y, int64_t ldy, uint16_t* y16, int64_t ldy16);

// out[j*out_stride_r + m*out_stride_m] += alpha * sum_{n<N} d[n*ldd + j] * x[n*ldx + m]
// (j < R, m < M). fp32 out, accumulated; N == 0 leaves it unchanged. d is (N, R) with row stride
// ldd >= R, x is (N, M) with row stride ldx >= M. Deterministic: the same bits on every run (on
// CUDA the sum over n is split into fixed partials added in a fixed order; no float atomics).
// On CUDA with R > kLoraThinMaxRank, out must be row-major one way or the other (out_stride_m == 1
// or out_stride_r == 1).
void lora_grad_bf16(const Ctx& ctx, int64_t N, int64_t M, int64_t R, const uint16_t* d, int64_t ldd,
                    const uint16_t* x, int64_t ldx, float alpha, float* out, int64_t out_stride_r,
                    int64_t out_stride_m);

}  // namespace qforge::kernels
