// What is here: the nf4_dequantize_bf16 kernels bench/nf4_cuda_bench.cpp compares with the
// library's (kernels/cuda/nf4.cu), built into the bench so that all run on one machine:
//   v1: the kernel as it was before the warp-span path (one thread per 8 values: its absmax
//       decoded from global memory, a 32-bit division for its row, 8 fp32 multiplies, 8 bf16
//       conversions);
//   v2: the warp-span layout of the library's kernel (one absmax a lane, passed by a shuffle),
//       but each value multiplied and rounded itself instead of read from a product table;
//   v3<steps>: a copy of the library's kernel, spans of 8 or 4 steps chosen by the caller.
#include <climits>
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace {

constexpr int64_t kBlock = 64;
constexpr int64_t kNested = 256;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

template <typename I>
__global__ void v1_kernel(uint16_t* out, int64_t ld_out, const uint8_t* packed,
                          const uint8_t* absmax_q, const float* nested_absmax,
                          const float* nested_code, const float* code, float offset, I numel,
                          I cols, bool vec) {
    __shared__ float levels[16];
    if (threadIdx.x < 16) {
        levels[threadIdx.x] = code[threadIdx.x];
    }
    __syncthreads();
    const I groups = (numel + 7) / 8;
    for (I g = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; g < groups;
         g += static_cast<I>(gridDim.x) * blockDim.x) {
        const I base = 8 * g;
        const I b = base / kBlock;
        const float scaled = __fmul_rn(nested_code[absmax_q[b]], nested_absmax[b / kNested]);
        const float absmax = __fadd_rn(scaled, offset);
        const I r = base / cols;
        const I c = base - r * cols;
        if (vec && c % 8 == 0 && c + 8 <= cols) {
            const uint32_t word = reinterpret_cast<const uint32_t*>(packed)[g];
            uint32_t pairs[4];
            for (int k = 0; k < 4; k++) {
                const uint32_t byte = (word >> (8 * k)) & 0xFFu;
                const uint32_t lo =
                    __bfloat16_as_ushort(__float2bfloat16_rn(__fmul_rn(levels[byte >> 4], absmax)));
                const uint32_t hi = __bfloat16_as_ushort(
                    __float2bfloat16_rn(__fmul_rn(levels[byte & 0x0Fu], absmax)));
                pairs[k] = lo | (hi << 16);
            }
            *reinterpret_cast<uint4*>(out + static_cast<int64_t>(r) * ld_out + c) =
                make_uint4(pairs[0], pairs[1], pairs[2], pairs[3]);
        } else {
            int64_t row = r, col = c;
            for (I i = base; i < base + 8 && i < numel; i++) {
                const uint8_t byte = packed[i / 2];
                const int q = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0F);
                out[row * ld_out + col] =
                    __bfloat16_as_ushort(__float2bfloat16_rn(__fmul_rn(levels[q], absmax)));
                if (++col == static_cast<int64_t>(cols)) {
                    col = 0;
                    row++;
                }
            }
        }
    }
}

// v2: needs cols % 256 == 0, ld_out % 8 == 0, aligned pointers (the bench's shapes)
__global__ void __launch_bounds__(kThreads)
    v2_kernel(uint16_t* __restrict__ out, int64_t ld_out, const uint8_t* __restrict__ packed,
              const uint8_t* __restrict__ absmax_q, const float* __restrict__ nested_absmax,
              const float* __restrict__ nested_code, const float* __restrict__ code, float offset,
              int64_t numel, int64_t cols) {
    __shared__ float levels[16];
    if (threadIdx.x < 16) {
        levels[threadIdx.x] = code[threadIdx.x];
    }
    __syncthreads();
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int64_t spans = (numel + 2047) / 2048;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * (kThreads / 32);
    for (int64_t s = blockIdx.x * static_cast<int64_t>(kThreads / 32) + threadIdx.x / 32; s < spans;
         s += stride) {
        const int64_t first = s * 2048;
        const int steps = static_cast<int>(min(static_cast<int64_t>(8), (numel - first) / 256));
        const auto* src = reinterpret_cast<const uint32_t*>(packed + first / 2) + lane;
        uint32_t words[8];
#pragma unroll
        for (int k = 0; k < 8; k++) {
            words[k] = k < steps ? src[32 * k] : 0u;
        }
        const int64_t b = s * 32 + lane;
        float mine = 0.0f;
        if (b * kBlock < numel) {
            mine =
                __fadd_rn(__fmul_rn(nested_code[absmax_q[b]], nested_absmax[b / kNested]), offset);
        }
        const int64_t row = first / cols;
        int64_t col = first - row * cols + 8 * lane;
        uint16_t* dst = out + row * ld_out + col;
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const float absmax = __shfl_sync(0xffffffffu, mine, 4 * k + lane / 8);
            if (k < steps) {
                const uint32_t w = words[k];
                uint32_t pairs[4];
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    const __nv_bfloat162 two =
                        __floats2bfloat162_rn(__fmul_rn(levels[(w >> (8 * j + 4)) & 0xFu], absmax),
                                              __fmul_rn(levels[(w >> (8 * j)) & 0xFu], absmax));
                    pairs[j] = *reinterpret_cast<const uint32_t*>(&two);
                }
                *reinterpret_cast<uint4*>(dst) = make_uint4(pairs[0], pairs[1], pairs[2], pairs[3]);
                dst += 256;
                col += 256;
                if (col >= cols) {
                    col -= cols;
                    dst += ld_out - cols;
                }
            }
        }
    }
}

template <int kSteps>
__global__ void __launch_bounds__(kThreads)
    v3_kernel(uint16_t* __restrict__ out, int64_t ld_out, const uint8_t* __restrict__ packed,
              const uint8_t* __restrict__ absmax_q, const float* __restrict__ nested_absmax,
              const float* __restrict__ nested_code, const float* __restrict__ code, float offset,
              int64_t numel, int64_t cols) {
    __shared__ float levels[16];
    constexpr int kSpan = 256 * kSteps;
    constexpr int kSpanBlocks = 4 * kSteps;
    __shared__ __align__(16) uint16_t tables[kWarps][kSpanBlocks][16];
    if (threadIdx.x < 16) {
        levels[threadIdx.x] = code[threadIdx.x];
    }
    __syncthreads();
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int warp = static_cast<int>(threadIdx.x / 32);
    const int64_t spans = (numel + kSpan - 1) / kSpan;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarps;
    // lane l reads, in step k, table 4k + l / 8: the byte offset of code q is 2q from here
    const uint16_t* read_table = &tables[warp][lane / 8][0];
    for (int64_t s = blockIdx.x * static_cast<int64_t>(kWarps) + warp; s < spans; s += stride) {
        const int64_t first = s * kSpan;
        const int steps =
            static_cast<int>(min(static_cast<int64_t>(kSteps), (numel - first) / 256));
        const auto* src = reinterpret_cast<const uint32_t*>(packed + first / 2) + lane;
        uint32_t words[kSteps];
#pragma unroll
        for (int k = 0; k < kSteps; k++) {
            words[k] = k < steps ? src[32 * k] : 0u;
        }
        const int64_t b = s * kSpanBlocks + lane;
        if (lane < kSpanBlocks && b * kBlock < numel) {
            const float scaled = __fmul_rn(nested_code[absmax_q[b]], nested_absmax[b / kNested]);
            const float absmax = __fadd_rn(scaled, offset);
            uint32_t pairs[8];
#pragma unroll
            for (int q = 0; q < 8; q++) {
                const __nv_bfloat162 two = __floats2bfloat162_rn(
                    __fmul_rn(levels[2 * q], absmax), __fmul_rn(levels[2 * q + 1], absmax));
                pairs[q] = *reinterpret_cast<const uint32_t*>(&two);
            }
            auto* dst = reinterpret_cast<uint4*>(&tables[warp][lane][0]);
            dst[0] = make_uint4(pairs[0], pairs[1], pairs[2], pairs[3]);
            dst[1] = make_uint4(pairs[4], pairs[5], pairs[6], pairs[7]);
        }
        __syncwarp();
        const int64_t row = first / cols;
        int64_t col = first - row * cols + 8 * lane;  // < cols: first % 256 == 0, cols % 256 == 0
        uint16_t* dst = out + row * ld_out + col;
        const int64_t wrap = ld_out - cols;  // added when a step crosses into the next row
#pragma unroll
        for (int k = 0; k < kSteps; k++) {
            if (k < steps) {
                const uint16_t* t = read_table + 4 * 16 * k;
                const uint32_t w = words[k];
                uint32_t pairs[4];
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    const uint32_t even = t[(w >> (8 * j + 4)) & 0x0Fu];  // the high nibble
                    const uint32_t odd = t[(w >> (8 * j)) & 0x0Fu];
                    pairs[j] = even | (odd << 16);
                }
                *reinterpret_cast<uint4*>(dst) = make_uint4(pairs[0], pairs[1], pairs[2], pairs[3]);
                dst += 256;
                col += 256;
                if (col >= cols) {
                    col -= cols;
                    dst += wrap;
                }
            }
        }
        __syncwarp();  // the tables are rewritten for the next span
    }
}

}  // namespace

cudaError_t v1_nf4_dequantize_bf16(uint16_t* out, int64_t ld_out, const uint8_t* packed,
                                   const uint8_t* absmax_q, const float* nested_absmax,
                                   const float* nested_code, const float* code, float offset,
                                   int64_t rows, int64_t cols) {
    const int64_t numel = rows * cols;
    const bool vec = ld_out % 8 == 0 && reinterpret_cast<uintptr_t>(packed) % 4 == 0 &&
                     reinterpret_cast<uintptr_t>(out) % 16 == 0;
    int64_t blocks = (numel / 8 + kThreads - 1) / kThreads;
    blocks = blocks < 65535 * 8 ? blocks : 65535 * 8;
    v1_kernel<uint32_t><<<static_cast<unsigned>(blocks), kThreads>>>(
        out, ld_out, packed, absmax_q, nested_absmax, nested_code, code, offset,
        static_cast<uint32_t>(numel), static_cast<uint32_t>(cols), vec);
    return cudaGetLastError();
}

cudaError_t v2_nf4_dequantize_bf16(uint16_t* out, int64_t ld_out, const uint8_t* packed,
                                   const uint8_t* absmax_q, const float* nested_absmax,
                                   const float* nested_code, const float* code, float offset,
                                   int64_t rows, int64_t cols) {
    const int64_t numel = rows * cols;
    const int64_t spans = (numel + 2047) / 2048;
    const auto blocks = static_cast<unsigned>((spans + 7) / 8);
    v2_kernel<<<blocks, kThreads>>>(out, ld_out, packed, absmax_q, nested_absmax, nested_code, code,
                                    offset, numel, cols);
    return cudaGetLastError();
}

cudaError_t v3_nf4_dequantize_bf16(int steps, uint16_t* out, int64_t ld_out, const uint8_t* packed,
                                   const uint8_t* absmax_q, const float* nested_absmax,
                                   const float* nested_code, const float* code, float offset,
                                   int64_t rows, int64_t cols) {
    const int64_t numel = rows * cols;
    const int64_t spans = (numel + 256 * steps - 1) / (256 * steps);
    const auto blocks = static_cast<unsigned>((spans + kWarps - 1) / kWarps);
    if (steps == 8) {
        v3_kernel<8><<<blocks, kThreads>>>(out, ld_out, packed, absmax_q, nested_absmax,
                                           nested_code, code, offset, numel, cols);
    } else {
        v3_kernel<4><<<blocks, kThreads>>>(out, ld_out, packed, absmax_q, nested_absmax,
                                           nested_code, code, offset, numel, cols);
    }
    return cudaGetLastError();
}
