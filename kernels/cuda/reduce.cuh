// What is here: warp and block reductions shared by the row kernels (norms, cross-entropy, sums).
// Each reduces in a fixed order for a given block size, so results are deterministic.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace qforge::kernels::cuda {

inline unsigned blocks_for(int64_t n, int threads) {
    return static_cast<unsigned>((n + threads - 1) / threads);
}

// Blocks for a grid-stride loop over n elements: one per `threads` elements, capped (the loop
// covers the rest).
inline unsigned grid_stride_blocks(int64_t n, int threads) {
    constexpr unsigned kMaxBlocks = 65535u * 8u;
    const unsigned b = blocks_for(n, threads);
    return b < kMaxBlocks ? b : kMaxBlocks;
}

template <typename T>
__device__ inline T warp_sum(T x) {
    for (int off = 16; off > 0; off >>= 1) {
        x += __shfl_xor_sync(0xffffffffu, x, off);
    }
    return x;
}

__device__ inline float warp_max(float x) {
    for (int off = 16; off > 0; off >>= 1) {
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, off));
    }
    return x;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `scratch` holds 32 values; the call ends with a barrier, so it may be reused right after.
template <typename T>
__device__ inline T block_sum(T x, T* scratch) {
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int warps = static_cast<int>(blockDim.x) / 32;
    x = warp_sum(x);
    if (lane == 0) {
        scratch[warp] = x;
    }
    __syncthreads();
    T total = lane < warps ? scratch[lane] : T(0);
    total = warp_sum(total);
    __syncthreads();
    return total;
}

__device__ inline float block_max(float x, float* scratch) {
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int warps = static_cast<int>(blockDim.x) / 32;
    x = warp_max(x);
    if (lane == 0) {
        scratch[warp] = x;
    }
    __syncthreads();
    float total = lane < warps ? scratch[lane] : -INFINITY;
    total = warp_max(total);
    __syncthreads();
    return total;
}

}  // namespace qforge::kernels::cuda
