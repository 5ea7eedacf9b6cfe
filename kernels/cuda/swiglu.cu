// What is here: swiglu_forward/backward on CUDA (kernels/cuda/pointwise.h), fp32 math, and their
// bf16 twins swiglu_forward_bf16/backward_bf16, which read bf16 inputs, widen them exactly,
// evaluate the same per-element functions (swiglu_value, swiglu_grads) and round with
// __float2bfloat16_rn into strided rows. The twins are memory-bound: four values per thread
// (8-byte loads of each input, 8-byte stores) when rows allow it, else one; grid-stride loops
// with 32-bit index arithmetic while the index fits.
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

// bf16 bits -> fp32, exact (bf16 is the top half of an fp32).
__device__ inline float widen(uint32_t bits) {
    return __uint_as_float(bits << 16);
}

// The four bf16 values of an 8-byte load, in memory order (little-endian: low half first).
__device__ inline void unpack4(uint2 v, float (&out)[4]) {
    out[0] = __uint_as_float(v.x << 16);
    out[1] = __uint_as_float(v.x & 0xFFFF0000u);
    out[2] = __uint_as_float(v.y << 16);
    out[3] = __uint_as_float(v.y & 0xFFFF0000u);
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
// count = N*F/4), else q indexes values (per_row = F, count = N*F). The bf16 inputs are dense,
// so a group's inputs start at element 4q (or q); outputs at row * ld + column.
template <bool Vec4, typename I>
__global__ void swiglu_forward_bf16_kernel(uint16_t* h, int64_t ld_h, const uint16_t* gate,
                                           const uint16_t* up, I per_row, I count) {
    for (I q = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; q < count;
         q += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = q / per_row;
        const int64_t col = static_cast<int64_t>(q - r * per_row);
        const int64_t at = static_cast<int64_t>(r) * ld_h;
        if constexpr (Vec4) {
            float g[4], u[4];
            unpack4(__ldg(reinterpret_cast<const uint2*>(gate) + q), g);
            unpack4(__ldg(reinterpret_cast<const uint2*>(up) + q), u);
            *reinterpret_cast<uint2*>(h + at + 4 * col) =
                pack4(swiglu_value(g[0], u[0]), swiglu_value(g[1], u[1]), swiglu_value(g[2], u[2]),
                      swiglu_value(g[3], u[3]));
        } else {
            h[at + col] =
                static_cast<uint16_t>(bf16_bits(swiglu_value(widen(gate[q]), widen(up[q]))));
        }
    }
}

template <bool Vec4, typename I>
__global__ void swiglu_backward_bf16_kernel(uint16_t* dgate, uint16_t* dup, int64_t ld,
                                            const uint16_t* dh, const uint16_t* gate,
                                            const uint16_t* up, I per_row, I count) {
    for (I q = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; q < count;
         q += static_cast<I>(gridDim.x) * blockDim.x) {
        const I r = q / per_row;
        const int64_t col = static_cast<int64_t>(q - r * per_row);
        const int64_t at = static_cast<int64_t>(r) * ld;
        if constexpr (Vec4) {
            float d[4], g[4], u[4];
            unpack4(__ldg(reinterpret_cast<const uint2*>(dh) + q), d);
            unpack4(__ldg(reinterpret_cast<const uint2*>(gate) + q), g);
            unpack4(__ldg(reinterpret_cast<const uint2*>(up) + q), u);
            float dg[4], du[4];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                swiglu_grads(d[j], g[j], u[j], dg[j], du[j]);
            }
            *reinterpret_cast<uint2*>(dgate + at + 4 * col) = pack4(dg[0], dg[1], dg[2], dg[3]);
            *reinterpret_cast<uint2*>(dup + at + 4 * col) = pack4(du[0], du[1], du[2], du[3]);
        } else {
            float dg, du;
            swiglu_grads(widen(dh[q]), widen(gate[q]), widen(up[q]), dg, du);
            dgate[at + col] = static_cast<uint16_t>(bf16_bits(dg));
            dup[at + col] = static_cast<uint16_t>(bf16_bits(du));
        }
    }
}

// swiglu_backward_bf16_lora, pass 1: block (x: kLoraThreads x Cols columns, y: kLoraRows rows);
// each thread walks its Cols columns down the block's rows, writing dgate / dup as the kernel above
// does and summing du[r][j] * h[r][c] into RMax x Cols registers (du rows widened in shared
// memory), then stores its partial of dA for this row block.
constexpr int kLoraThreads = 128;
constexpr int kLoraRows = static_cast<int>(kSwigluLoraRowsPerBlock);
constexpr int kAhead = 4;  // rows whose loads a thread issues together

template <int Cols, int RMax>
__global__ void __launch_bounds__(kLoraThreads)
    swiglu_backward_lora_kernel(uint16_t* dgate, uint16_t* dup, int64_t ld, const uint16_t* dh,
                                const uint16_t* gate, const uint16_t* up, int64_t N, int64_t F,
                                const uint16_t* du, int64_t ld_du, int R, float* partials) {
    __shared__ float du_s[kLoraRows][RMax];
    const int64_t r0 = static_cast<int64_t>(blockIdx.y) * kLoraRows;
    const int rows = N - r0 < kLoraRows ? static_cast<int>(N - r0) : kLoraRows;
    for (int i = threadIdx.x; i < rows * RMax; i += kLoraThreads) {
        const int r = i / RMax, j = i % RMax;
        du_s[r][j] = j < R ? widen(du[(r0 + r) * ld_du + j]) : 0.0f;
    }
    __syncthreads();
    const int64_t c0 = (static_cast<int64_t>(blockIdx.x) * kLoraThreads + threadIdx.x) * Cols;
    if (c0 >= F) {
        return;
    }
    float acc[RMax][Cols];
#pragma unroll
    for (int j = 0; j < RMax; j++) {
#pragma unroll
        for (int c = 0; c < Cols; c++) {
            acc[j][c] = 0.0f;
        }
    }
    // kAhead rows at a time: their loads are all issued before the first is used, so a thread
    // has 3 kAhead loads in flight instead of 3 (the kernel is bound by memory latency otherwise)
    for (int r1 = 0; r1 < rows; r1 += kAhead) {
        uint2 dv4[kAhead], gv4[kAhead], uv4[kAhead];
        uint16_t d1[kAhead], g1[kAhead], u1[kAhead];
#pragma unroll
        for (int k = 0; k < kAhead; k++) {
            const int64_t q = (r0 + min(r1 + k, rows - 1)) * F + c0;  // (N, F) contiguous
            if constexpr (Cols == 4) {
                dv4[k] = __ldg(reinterpret_cast<const uint2*>(dh + q));
                gv4[k] = __ldg(reinterpret_cast<const uint2*>(gate + q));
                uv4[k] = __ldg(reinterpret_cast<const uint2*>(up + q));
            } else {
                d1[k] = dh[q];
                g1[k] = gate[q];
                u1[k] = up[q];
            }
        }
#pragma unroll
        for (int k = 0; k < kAhead; k++) {
            const int r = r1 + k;
            if (r >= rows) {
                break;
            }
            const int64_t at = (r0 + r) * ld + c0;
            float d[Cols], g[Cols], u[Cols], h[Cols], dg[Cols], dv[Cols];
            if constexpr (Cols == 4) {
                unpack4(dv4[k], d);
                unpack4(gv4[k], g);
                unpack4(uv4[k], u);
            } else {
                d[0] = widen(d1[k]);
                g[0] = widen(g1[k]);
                u[0] = widen(u1[k]);
            }
#pragma unroll
            for (int c = 0; c < Cols; c++) {
                swiglu_grads(d[c], g[c], u[c], dg[c], dv[c]);
                h[c] = widen(bf16_bits(swiglu_value(g[c], u[c])));
            }
            if constexpr (Cols == 4) {
                *reinterpret_cast<uint2*>(dgate + at) = pack4(dg[0], dg[1], dg[2], dg[3]);
                *reinterpret_cast<uint2*>(dup + at) = pack4(dv[0], dv[1], dv[2], dv[3]);
            } else {
                dgate[at] = static_cast<uint16_t>(bf16_bits(dg[0]));
                dup[at] = static_cast<uint16_t>(bf16_bits(dv[0]));
            }
#pragma unroll
            for (int j = 0; j < RMax; j++) {
                const float a = du_s[r][j];
#pragma unroll
                for (int c = 0; c < Cols; c++) {
                    acc[j][c] = fmaf(a, h[c], acc[j][c]);
                }
            }
        }
    }
    float* part = partials + static_cast<int64_t>(blockIdx.y) * R * F + c0;
#pragma unroll
    for (int j = 0; j < RMax; j++) {  // unrolled: acc stays in registers
        if (j < R) {
#pragma unroll
            for (int c = 0; c < Cols; c++) {
                part[j * F + c] = acc[j][c];
            }
        }
    }
}

// Pass 2: dA[j * ld_a + c] += the row blocks' partials, summed in block order.
__global__ void swiglu_lora_reduce_kernel(float* dA, int64_t ld_a, const float* partials,
                                          int64_t blocks, int64_t F, int64_t RF) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < RF;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        float s = 0.0f;
        for (int64_t b = 0; b < blocks; b++) {
            s += partials[b * RF + i];
        }
        const int64_t j = i / F, c = i - j * F;
        dA[j * ld_a + c] += s;
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
                    const uint16_t* gate, const uint16_t* up) {
        swiglu_forward_bf16_kernel<Vec4, I>
            <<<grid, kThreads, 0, s>>>(h, ld_h, gate, up, per_row, count);
    }
};

template <bool Vec4, typename I>
struct BackwardBf16 {
    static void run(unsigned grid, cudaStream_t s, I per_row, I count, uint16_t* dgate,
                    uint16_t* dup, int64_t ld, const uint16_t* dh, const uint16_t* gate,
                    const uint16_t* up) {
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

void swiglu_forward_bf16(void* stream, uint16_t* h, int64_t ld_h, const uint16_t* gate,
                         const uint16_t* up, int64_t N, int64_t F) {
    const bool vec =
        F % 4 == 0 && ld_h % 4 == 0 && aligned(gate, 8) && aligned(up, 8) && aligned(h, 8);
    launch_rows<ForwardBf16>(static_cast<cudaStream_t>(stream), vec, N, F, h, ld_h, gate, up);
}

void swiglu_backward_bf16(void* stream, uint16_t* dgate, uint16_t* dup, int64_t ld,
                          const uint16_t* dh, const uint16_t* gate, const uint16_t* up, int64_t N,
                          int64_t F) {
    const bool vec = F % 4 == 0 && ld % 4 == 0 && aligned(dh, 8) && aligned(gate, 8) &&
                     aligned(up, 8) && aligned(dgate, 8) && aligned(dup, 8);
    launch_rows<BackwardBf16>(static_cast<cudaStream_t>(stream), vec, N, F, dgate, dup, ld, dh,
                              gate, up);
}

void swiglu_backward_bf16_lora(void* stream, uint16_t* dgate, uint16_t* dup, int64_t ld,
                               const uint16_t* dh, const uint16_t* gate, const uint16_t* up,
                               int64_t N, int64_t F, const uint16_t* du, int64_t ld_du, int64_t R,
                               float* dA, int64_t ld_a, float* partials) {
    const auto s = static_cast<cudaStream_t>(stream);
    const bool vec = F % 4 == 0 && ld % 4 == 0 && aligned(dh, 8) && aligned(gate, 8) &&
                     aligned(up, 8) && aligned(dgate, 8) && aligned(dup, 8);
    const int cols = vec ? 4 : 1;
    const int64_t row_blocks = (N + kLoraRows - 1) / kLoraRows;
    const dim3 grid(static_cast<unsigned>((F + kLoraThreads * cols - 1) / (kLoraThreads * cols)),
                    static_cast<unsigned>(row_blocks));
    const int r = static_cast<int>(R);
    if (vec && R <= 16) {
        swiglu_backward_lora_kernel<4, 16><<<grid, kLoraThreads, 0, s>>>(
            dgate, dup, ld, dh, gate, up, N, F, du, ld_du, r, partials);
    } else if (vec) {
        swiglu_backward_lora_kernel<4, 32><<<grid, kLoraThreads, 0, s>>>(
            dgate, dup, ld, dh, gate, up, N, F, du, ld_du, r, partials);
    } else if (R <= 16) {
        swiglu_backward_lora_kernel<1, 16><<<grid, kLoraThreads, 0, s>>>(
            dgate, dup, ld, dh, gate, up, N, F, du, ld_du, r, partials);
    } else {
        swiglu_backward_lora_kernel<1, 32><<<grid, kLoraThreads, 0, s>>>(
            dgate, dup, ld, dh, gate, up, N, F, du, ld_du, r, partials);
    }
    QF_CUDA_LAUNCH_CHECK();
    const int64_t rf = R * F;
    swiglu_lora_reduce_kernel<<<grid_stride_blocks(rf, kThreads), kThreads, 0, s>>>(
        dA, ld_a, partials, row_blocks, F, rf);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
