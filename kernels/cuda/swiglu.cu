// What is here: swiglu_forward/backward on CUDA (kernels/cuda/pointwise.h), fp32 math, and their
// bf16-output twins swiglu_forward_bf16/backward_bf16, which evaluate the same per-element
// functions (swiglu_value, swiglu_grads) and round with __float2bfloat16_rn into strided rows.
// The twins are memory-bound: four values per thread (float4 loads, 8-byte stores) when rows
// allow it, else one; grid-stride loops with 32-bit index arithmetic while the index fits.
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

__device__ inline float sigmoidf(float x) {
    return 1.0f / (1.0f + expf(-x));
}

// silu(g) * u: the value of swiglu_forward and of swiglu_forward_bf16 before rounding.
__device__ inline float swiglu_value(float g, float u) {
    return g * sigmoidf(g) * u;
}

// The increments of swiglu_backward (what swiglu_backward_bf16 rounds).
__device__ inline void swiglu_grads(float dy, float g, float u, float& dg, float& du) {
    const float sg = sigmoidf(g);
    dg = dy * u * sg * (1.0f + g * (1.0f - sg));
    du = dy * g * sg;
}

__device__ inline uint32_t bf16_bits(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

__device__ inline uint2 pack4(float a, float b, float c, float d) {
    return make_uint2(bf16_bits(a) | (bf16_bits(b) << 16), bf16_bits(c) | (bf16_bits(d) << 16));
}

// one thread per element (grid-stride); out may alias gate or up
__global__ void swiglu_forward_kernel(float* out, const float* gate, const float* up, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        out[i] = swiglu_value(gate[i], up[i]);
    }
}

// one thread per element (grid-stride); dgate, dup accumulate, either may be nullptr
__global__ void swiglu_backward_kernel(float* dgate, float* dup, const float* dout,
                                       const float* gate, const float* up, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        float dg, du;
        swiglu_grads(dout[i], gate[i], up[i], dg, du);
        if (dgate != nullptr) {
            dgate[i] += dg;
        }
        if (dup != nullptr) {
            dup[i] += du;
        }
    }
}

// The bf16 twins. Vec4: q indexes groups of 4 consecutive values of a row (quads_per_row = F/4,
// count = N*F/4), else q indexes values (per_row = F, count = N*F). The fp32 inputs are dense,
// so a group's inputs start at element 4q (or q); outputs at row * ld + column.
template <bool Vec4, typename I>
__global__ void swiglu_forward_bf16_kernel(uint16_t* h, int64_t ld_h, const float* gate,
                                           const float* up, I per_row, I count) {
    for (I q = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; q < count;
         q += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = q / per_row;
        const int64_t col = static_cast<int64_t>(q - r * per_row);
        const int64_t at = static_cast<int64_t>(r) * ld_h;
        if constexpr (Vec4) {
            const float4 g = __ldg(reinterpret_cast<const float4*>(gate) + q);
            const float4 u = __ldg(reinterpret_cast<const float4*>(up) + q);
            *reinterpret_cast<uint2*>(h + at + 4 * col) =
                pack4(swiglu_value(g.x, u.x), swiglu_value(g.y, u.y), swiglu_value(g.z, u.z),
                      swiglu_value(g.w, u.w));
        } else {
            h[at + col] = static_cast<uint16_t>(bf16_bits(swiglu_value(gate[q], up[q])));
        }
    }
}

template <bool Vec4, typename I>
__global__ void swiglu_backward_bf16_kernel(uint16_t* dgate, uint16_t* dup, int64_t ld,
                                            const float* dh, const float* gate, const float* up,
                                            I per_row, I count) {
    for (I q = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; q < count;
         q += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = q / per_row;
        const int64_t col = static_cast<int64_t>(q - r * per_row);
        const int64_t at = static_cast<int64_t>(r) * ld;
        if constexpr (Vec4) {
            const float4 d = __ldg(reinterpret_cast<const float4*>(dh) + q);
            const float4 g = __ldg(reinterpret_cast<const float4*>(gate) + q);
            const float4 u = __ldg(reinterpret_cast<const float4*>(up) + q);
            float dg[4], du[4];
            swiglu_grads(d.x, g.x, u.x, dg[0], du[0]);
            swiglu_grads(d.y, g.y, u.y, dg[1], du[1]);
            swiglu_grads(d.z, g.z, u.z, dg[2], du[2]);
            swiglu_grads(d.w, g.w, u.w, dg[3], du[3]);
            *reinterpret_cast<uint2*>(dgate + at + 4 * col) = pack4(dg[0], dg[1], dg[2], dg[3]);
            *reinterpret_cast<uint2*>(dup + at + 4 * col) = pack4(du[0], du[1], du[2], du[3]);
        } else {
            float dg, du;
            swiglu_grads(dh[q], gate[q], up[q], dg, du);
            dgate[at + col] = static_cast<uint16_t>(bf16_bits(dg));
            dup[at + col] = static_cast<uint16_t>(bf16_bits(du));
        }
    }
}

bool aligned(const void* p, uintptr_t bytes) {
    return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

// Launches kernel<Vec4, I> over N rows of F values: Vec4 when `vec`, 32-bit indices when the
// count fits (the grid-stride index then cannot wrap: its stride is < 2^28).
template <template <bool, typename> class Launch, typename... Args>
void launch_rows(cudaStream_t s, bool vec, int64_t N, int64_t F, Args... args) {
    const int64_t per_row = vec ? F / 4 : F;
    const int64_t count = N * per_row;
    const unsigned grid = grid_stride_blocks(count, kThreads);
    const bool narrow = count <= INT_MAX;
    if (vec && narrow) {
        Launch<true, uint32_t>::run(grid, s, static_cast<uint32_t>(per_row),
                                    static_cast<uint32_t>(count), args...);
    } else if (vec) {
        Launch<true, int64_t>::run(grid, s, per_row, count, args...);
    } else if (narrow) {
        Launch<false, uint32_t>::run(grid, s, static_cast<uint32_t>(per_row),
                                     static_cast<uint32_t>(count), args...);
    } else {
        Launch<false, int64_t>::run(grid, s, per_row, count, args...);
    }
    QF_CUDA_LAUNCH_CHECK();
}

template <bool Vec4, typename I>
struct ForwardBf16 {
    static void run(unsigned grid, cudaStream_t s, I per_row, I count, uint16_t* h, int64_t ld_h,
                    const float* gate, const float* up) {
        swiglu_forward_bf16_kernel<Vec4, I>
            <<<grid, kThreads, 0, s>>>(h, ld_h, gate, up, per_row, count);
    }
};

template <bool Vec4, typename I>
struct BackwardBf16 {
    static void run(unsigned grid, cudaStream_t s, I per_row, I count, uint16_t* dgate,
                    uint16_t* dup, int64_t ld, const float* dh, const float* gate,
                    const float* up) {
        swiglu_backward_bf16_kernel<Vec4, I>
            <<<grid, kThreads, 0, s>>>(dgate, dup, ld, dh, gate, up, per_row, count);
    }
};

}  // namespace

void swiglu_forward(void* stream, float* out, const float* gate, const float* up, int64_t n) {
    if (n == 0) {
        return;
    }
    swiglu_forward_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0,
                            static_cast<cudaStream_t>(stream)>>>(out, gate, up, n);
    QF_CUDA_LAUNCH_CHECK();
}

void swiglu_backward(void* stream, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n) {
    if (n == 0 || (dgate == nullptr && dup == nullptr)) {
        return;
    }
    swiglu_backward_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0,
                             static_cast<cudaStream_t>(stream)>>>(dgate, dup, dout, gate, up, n);
    QF_CUDA_LAUNCH_CHECK();
}

void swiglu_forward_bf16(void* stream, uint16_t* h, int64_t ld_h, const float* gate,
                         const float* up, int64_t N, int64_t F) {
    const bool vec =
        F % 4 == 0 && ld_h % 4 == 0 && aligned(gate, 16) && aligned(up, 16) && aligned(h, 8);
    launch_rows<ForwardBf16>(static_cast<cudaStream_t>(stream), vec, N, F, h, ld_h, gate, up);
}

void swiglu_backward_bf16(void* stream, uint16_t* dgate, uint16_t* dup, int64_t ld, const float* dh,
                          const float* gate, const float* up, int64_t N, int64_t F) {
    const bool vec = F % 4 == 0 && ld % 4 == 0 && aligned(dh, 16) && aligned(gate, 16) &&
                     aligned(up, 16) && aligned(dgate, 8) && aligned(dup, 8);
    launch_rows<BackwardBf16>(static_cast<cudaStream_t>(stream), vec, N, F, dgate, dup, ld, dh,
                              gate, up);
}

}  // namespace qforge::kernels::cuda
