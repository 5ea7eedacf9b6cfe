// What is here: convert_to_bf16 and convert_from_bf16 on CUDA (kernels/cuda/pointwise.h).
// convert_to_bf16: scale * in rounded with __float2bfloat16_rn (round to nearest even; NaN ->
// 0x7FFF), bit-identical with the CPU's kernels/bf16_bits.h. convert_from_bf16: the fp32 bits
// are the bf16 bits << 16, moved as integers (no float operation that could quiet a signalling
// NaN), bit-identical with the CPU. Memory-bound: four values per thread (to bf16: one float4
// load, one 8-byte store; from bf16: one 8-byte load, one 16-byte store) when every row is
// aligned for them, else one value per thread; grid-stride loops, the row found by a 32-bit
// division when the index fits. convert_to_bf16_batch: blockIdx.y picks the conversion, one
// value per thread (its matrices are small: launches, not bytes, are what it saves).
#include <algorithm>
#include <climits>
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__device__ inline uint32_t bf16_bits(float scale, float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(__fmul_rn(scale, x)));
}

// quads = rows * (cols / 4) groups of 4 consecutive values of a row; I is the index type.
template <typename I>
__global__ void convert_quads_kernel(uint16_t* out, int64_t ld_out, const float* in, int64_t ld_in,
                                     I quads_per_row, I quads, float scale) {
    for (I q = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; q < quads;
         q += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = q / quads_per_row;
        const int64_t c = 4 * static_cast<int64_t>(q - r * quads_per_row);
        const float4 v =
            __ldg(reinterpret_cast<const float4*>(in + static_cast<int64_t>(r) * ld_in + c));
        uint2 packed;
        packed.x = bf16_bits(scale, v.x) | (bf16_bits(scale, v.y) << 16);
        packed.y = bf16_bits(scale, v.z) | (bf16_bits(scale, v.w) << 16);
        *reinterpret_cast<uint2*>(out + static_cast<int64_t>(r) * ld_out + c) = packed;
    }
}

// one thread per value of the (rows, cols) matrix
template <typename I>
__global__ void convert_scalar_kernel(uint16_t* out, int64_t ld_out, const float* in, int64_t ld_in,
                                      I cols, I count, float scale) {
    for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < count;
         i += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = i / cols;
        const int64_t c = static_cast<int64_t>(i - r * cols);
        out[static_cast<int64_t>(r) * ld_out + c] =
            static_cast<uint16_t>(bf16_bits(scale, in[static_cast<int64_t>(r) * ld_in + c]));
    }
}

// convert_from_bf16, quads as in convert_quads_kernel: 4 bf16 words in (8 bytes), 4 fp32 out.
template <typename I>
__global__ void widen_quads_kernel(uint32_t* out, int64_t ld_out, const uint16_t* in, int64_t ld_in,
                                   I quads_per_row, I quads) {
    for (I q = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; q < quads;
         q += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = q / quads_per_row;
        const int64_t c = 4 * static_cast<int64_t>(q - r * quads_per_row);
        const uint2 v =
            __ldg(reinterpret_cast<const uint2*>(in + static_cast<int64_t>(r) * ld_in + c));
        uint4 w;
        w.x = v.x << 16;
        w.y = v.x & 0xFFFF0000u;
        w.z = v.y << 16;
        w.w = v.y & 0xFFFF0000u;
        *reinterpret_cast<uint4*>(out + static_cast<int64_t>(r) * ld_out + c) = w;
    }
}

// convert_from_bf16, one thread per value
template <typename I>
__global__ void widen_scalar_kernel(uint32_t* out, int64_t ld_out, const uint16_t* in,
                                    int64_t ld_in, I cols, I count) {
    for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < count;
         i += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = i / cols;
        const int64_t c = static_cast<int64_t>(i - r * cols);
        out[static_cast<int64_t>(r) * ld_out + c] =
            static_cast<uint32_t>(in[static_cast<int64_t>(r) * ld_in + c]) << 16;
    }
}

// convert_to_bf16_batch: blockIdx.y picks the conversion, one value per thread (grid-stride)
struct Bf16Batch {
    Bf16Conversion conversions[kBf16BatchLaunch];
};

template <typename I>
__global__ void convert_batch_kernel(const __grid_constant__ Bf16Batch batch) {
    const Bf16Conversion& c = batch.conversions[blockIdx.y];
    const I cols = static_cast<I>(c.cols), count = static_cast<I>(c.rows * c.cols);
    for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < count;
         i += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = i / cols;
        const I col = i - r * cols;
        c.out[static_cast<int64_t>(r) * c.ld_out + col] = static_cast<uint16_t>(
            bf16_bits(c.scale, c.in[static_cast<int64_t>(r) * c.ld_in + col]));
    }
}

}  // namespace

void convert_to_bf16_batch(void* stream, const Bf16Conversion* conversions, int n) {
    Bf16Batch batch;
    int64_t most = 0;
    for (int i = 0; i < n; ++i) {
        batch.conversions[i] = conversions[i];
        most = std::max(most, conversions[i].rows * conversions[i].cols);
    }
    // a few grid-stride passes over the largest conversion: the batch is of small matrices; below
    // INT_MAX the index cannot wrap in 32 bits (its stride is < 2^16)
    const dim3 grid(std::min(grid_stride_blocks(most, kThreads), 256u), static_cast<unsigned>(n));
    const auto s = static_cast<cudaStream_t>(stream);
    if (most <= INT_MAX) {
        convert_batch_kernel<uint32_t><<<grid, kThreads, 0, s>>>(batch);
    } else {
        convert_batch_kernel<int64_t><<<grid, kThreads, 0, s>>>(batch);
    }
    QF_CUDA_LAUNCH_CHECK();
}

void convert_to_bf16(void* stream, uint16_t* out, int64_t ld_out, const float* in, int64_t ld_in,
                     int64_t rows, int64_t cols, float scale) {
    const auto s = static_cast<cudaStream_t>(stream);
    const bool vec = cols % 4 == 0 && ld_in % 4 == 0 && ld_out % 4 == 0 &&
                     reinterpret_cast<uintptr_t>(in) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(out) % 8 == 0;
    // Below INT_MAX the grid-stride index cannot wrap in 32 bits (its stride is < 2^28).
    if (vec) {
        const int64_t quads = rows * (cols / 4);
        const unsigned grid = grid_stride_blocks(quads, kThreads);
        if (quads <= INT_MAX) {
            convert_quads_kernel<uint32_t>
                <<<grid, kThreads, 0, s>>>(out, ld_out, in, ld_in, static_cast<uint32_t>(cols / 4),
                                           static_cast<uint32_t>(quads), scale);
        } else {
            convert_quads_kernel<int64_t>
                <<<grid, kThreads, 0, s>>>(out, ld_out, in, ld_in, cols / 4, quads, scale);
        }
    } else {
        const int64_t count = rows * cols;
        const unsigned grid = grid_stride_blocks(count, kThreads);
        if (count <= INT_MAX) {
            convert_scalar_kernel<uint32_t>
                <<<grid, kThreads, 0, s>>>(out, ld_out, in, ld_in, static_cast<uint32_t>(cols),
                                           static_cast<uint32_t>(count), scale);
        } else {
            convert_scalar_kernel<int64_t>
                <<<grid, kThreads, 0, s>>>(out, ld_out, in, ld_in, cols, count, scale);
        }
    }
    QF_CUDA_LAUNCH_CHECK();
}

void convert_from_bf16(void* stream, float* out_f32, int64_t ld_out, const uint16_t* in,
                       int64_t ld_in, int64_t rows, int64_t cols) {
    const auto s = static_cast<cudaStream_t>(stream);
    auto* out = reinterpret_cast<uint32_t*>(out_f32);  // bits only: NaN payloads kept
    const bool vec = cols % 4 == 0 && ld_in % 4 == 0 && ld_out % 4 == 0 &&
                     reinterpret_cast<uintptr_t>(in) % 8 == 0 &&
                     reinterpret_cast<uintptr_t>(out) % 16 == 0;
    // Below INT_MAX the grid-stride index cannot wrap in 32 bits (its stride is < 2^28).
    if (vec) {
        const int64_t quads = rows * (cols / 4);
        const unsigned grid = grid_stride_blocks(quads, kThreads);
        if (quads <= INT_MAX) {
            widen_quads_kernel<uint32_t><<<grid, kThreads, 0, s>>>(out, ld_out, in, ld_in,
                                                                   static_cast<uint32_t>(cols / 4),
                                                                   static_cast<uint32_t>(quads));
        } else {
            widen_quads_kernel<int64_t>
                <<<grid, kThreads, 0, s>>>(out, ld_out, in, ld_in, cols / 4, quads);
        }
    } else {
        const int64_t count = rows * cols;
        const unsigned grid = grid_stride_blocks(count, kThreads);
        if (count <= INT_MAX) {
            widen_scalar_kernel<uint32_t><<<grid, kThreads, 0, s>>>(
                out, ld_out, in, ld_in, static_cast<uint32_t>(cols), static_cast<uint32_t>(count));
        } else {
            widen_scalar_kernel<int64_t>
                <<<grid, kThreads, 0, s>>>(out, ld_out, in, ld_in, cols, count);
        }
    }
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
