// What is here: convert_to_bf16 on CUDA (kernels/cuda/pointwise.h): scale * in rounded with
// __float2bfloat16_rn (round to nearest even; NaN -> 0x7FFF), bit-identical with the CPU's
// kernels/bf16_bits.h. Memory-bound: four values per thread (one float4 load, one 8-byte store)
// when every row starts 16 bytes in and 8 bytes out aligned, else one value per thread; both
// grid-stride loops, the row found by a 32-bit division when the index fits.
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

}  // namespace

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

}  // namespace qforge::kernels::cuda
