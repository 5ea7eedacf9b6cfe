// What is here: nf4_dequantize, nf4_dequantize_bf16 and the device NF4 quantizer on CUDA
// (kernels/cuda/pointwise.h), all bit-identical with kernels/cpu/nf4.cpp: the same code searches
// (kernels/nf4_codes.h), the same fp32 operations in the same order with explicit round-to-nearest
// intrinsics (so nvcc cannot fuse a multiply and an add into one FMA), and the offset's double sum
// in the CPU's order (a running sum per 256-block group, then the groups in order).
#include <climits>
#include <cstdint>

#include <cuda_bf16.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/nf4_codes.h"

namespace qforge::kernels::cuda {

namespace {

constexpr int64_t kBlock = 64;    // values per absmax (kNf4BlockSize)
constexpr int64_t kNested = 256;  // absmax per nested_absmax (kNf4NestedBlockSize)
constexpr int kThreads = 256;

// ---- dequantize -------------------------------------------------------------------------------

// one thread per 8 values (4 packed bytes, one absmax): a 4-byte load and two float4 stores when
// the 8 are inside the tensor and `vec` (packed 4-byte and out 16-byte aligned); else scalar
__global__ void nf4_dequantize_kernel(float* out, const uint8_t* packed, const uint8_t* absmax_q,
                                      const float* nested_absmax, const float* nested_code,
                                      const float* code, float offset, int64_t numel, bool vec) {
    __shared__ float levels[16];
    if (threadIdx.x < 16) {
        levels[threadIdx.x] = code[threadIdx.x];
    }
    __syncthreads();
    const int64_t groups = (numel + 7) / 8;
    for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups;
         g += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t base = 8 * g;
        const int64_t b = base / kBlock;
        const float scaled = __fmul_rn(nested_code[absmax_q[b]], nested_absmax[b / kNested]);
        const float absmax = __fadd_rn(scaled, offset);
        if (vec && base + 8 <= numel) {
            const uint32_t word = reinterpret_cast<const uint32_t*>(packed)[g];
            float v[8];
            for (int k = 0; k < 4; k++) {
                const uint32_t byte = (word >> (8 * k)) & 0xFFu;
                v[2 * k] = __fmul_rn(levels[byte >> 4], absmax);
                v[2 * k + 1] = __fmul_rn(levels[byte & 0x0Fu], absmax);
            }
            auto* out4 = reinterpret_cast<float4*>(out + base);
            out4[0] = make_float4(v[0], v[1], v[2], v[3]);
            out4[1] = make_float4(v[4], v[5], v[6], v[7]);
        } else {
            for (int64_t i = base; i < base + 8 && i < numel; i++) {
                const uint8_t byte = packed[i / 2];
                const int q = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0F);
                out[i] = __fmul_rn(levels[q], absmax);
            }
        }
    }
}

// one thread per 8 values, as above, rounded to bf16 and written into the strided (rows, cols)
// matrix: a 4-byte load and one 16-byte store when the 8 share a row and start 16 bytes aligned
// (`vec`: packed 4-byte aligned, out 16-byte aligned, ld_out % 8 == 0; then column % 8 == 0
// suffices), else one value at a time, stepping to the next row at the end of one. I is the
// index type (uint32_t while numel fits).
template <typename I>
__global__ void nf4_dequantize_bf16_kernel(uint16_t* out, int64_t ld_out, const uint8_t* packed,
                                           const uint8_t* absmax_q, const float* nested_absmax,
                                           const float* nested_code, const float* code,
                                           float offset, I numel, I cols, bool vec) {
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

// The fast path of nf4_dequantize_bf16 when cols % 256 == 0, ld_out % 8 == 0, packed 4-byte and
// out 16-byte aligned (the train step's projections). One warp per span of 256 * kSteps values
// (4 * kSteps absmax blocks; a span may cross rows): lane l < 4 * kSteps decodes block
// (4 * kSteps) s + l's absmax once and writes its 16 products bf16(code[q] * absmax) into the
// warp's table in shared memory (the CPU's fp32 multiply and rounding, done once per code instead
// of once per value). Then in step k the warp covers the 256 values [span + 256k, +256): lane l
// the 8 from 256k + 8l (block 4k + l / 8): one coalesced 4-byte load of its codes (all kSteps
// loads issued first), 8 table reads (the 4 tables a step reads span the 32 banks once) and one
// 16-byte store. The launch uses kSteps = 8 (bench/nf4_cuda_bench times 4 as well).
constexpr int kWarps = kThreads / 32;

template <int kSteps>
__global__ void __launch_bounds__(kThreads)
    nf4_dequantize_bf16_rows_kernel(uint16_t* __restrict__ out, int64_t ld_out,
                                    const uint8_t* __restrict__ packed,
                                    const uint8_t* __restrict__ absmax_q,
                                    const float* __restrict__ nested_absmax,
                                    const float* __restrict__ nested_code,
                                    const float* __restrict__ code, float offset, int64_t numel,
                                    int64_t cols) {
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

// ---- quantize ---------------------------------------------------------------------------------

// one warp per 64-value block b: lane l codes values 64b + 2l and 64b + 2l + 1 (one packed byte)
__global__ void nf4_quantize_codes_kernel(const float* w, int64_t numel, uint8_t* packed,
                                          float* absmax, int64_t blocks) {
    const int64_t b = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
    if (b >= blocks) {
        return;  // whole warps leave together (blocks of 256 threads = 8 whole warps)
    }
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int64_t i = b * kBlock + 2 * lane;
    const float first = i < numel ? w[i] : 0.0f;
    const float second = i + 1 < numel ? w[i + 1] : 0.0f;  // past the end: bnb pads with 0
    float amax = 0.0f;
    if (i < numel) {
        amax = fabsf(first);
    }
    if (i + 1 < numel) {
        amax = fmaxf(amax, fabsf(second));
    }
    amax = warp_max(amax);
    if (lane == 0) {
        absmax[b] = amax;
    }
    if (i < numel) {
        const float inv = __fdiv_rn(1.0f, amax);  // inf for a block of zeros, as on the CPU
        const uint8_t hi = nf4_codes::nf4_nearest(__fmul_rn(first, inv));
        const uint8_t lo = nf4_codes::nf4_nearest(__fmul_rn(second, inv));
        packed[i / 2] = static_cast<uint8_t>((hi << 4) | lo);
    }
}

// one thread per 256-block group: its running double sum of absmax, in block order
__global__ void nf4_absmax_partials_kernel(const float* absmax, int64_t blocks, double* partials,
                                           int64_t groups) {
    const int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (g >= groups) {
        return;
    }
    double part = 0.0;
    const int64_t end = (g + 1) * kNested < blocks ? (g + 1) * kNested : blocks;
    for (int64_t b = g * kNested; b < end; b++) {
        part += static_cast<double>(absmax[b]);
    }
    partials[g] = part;
}

// one thread: the group sums in order, then the mean rounded once to fp32
__global__ void nf4_offset_kernel(const double* partials, int64_t groups, int64_t blocks,
                                  float* offset) {
    double sum = 0.0;
    for (int64_t g = 0; g < groups; g++) {
        sum += partials[g];
    }
    *offset = static_cast<float>(__ddiv_rn(sum, static_cast<double>(blocks)));
}

struct DynamicMap {
    float v[256];
};

// one block of 256 threads per group g: thread t codes (absmax[256g + t] - offset)
__global__ void nf4_quantize_absmax_kernel(const float* absmax, int64_t blocks, const float* offset,
                                           float* nested_absmax, uint8_t* absmax_q,
                                           DynamicMap map) {
    __shared__ float table[256];
    __shared__ float scratch[32];
    table[threadIdx.x] = map.v[threadIdx.x];
    const int64_t b = blockIdx.x * kNested + threadIdx.x;
    const float off = *offset;
    const float centred = b < blocks ? __fsub_rn(absmax[b], off) : 0.0f;
    const float amax = block_max(fabsf(centred), scratch);  // 0 is neutral: the CPU starts at 0
    if (threadIdx.x == 0) {
        nested_absmax[blockIdx.x] = amax;
    }
    if (b < blocks) {
        const float inv = __fdiv_rn(1.0f, amax);
        absmax_q[b] = nf4_codes::dynamic_nearest(table, __fmul_rn(centred, inv));
    }
}

}  // namespace

void nf4_dequantize(void* stream, float* out, const uint8_t* packed, const uint8_t* absmax_q,
                    const float* nested_absmax, const float* nested_code, const float* code,
                    float offset, int64_t numel) {
    if (numel == 0) {
        return;
    }
    const bool vec =
        reinterpret_cast<uintptr_t>(packed) % 4 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
    const int64_t groups = (numel + 7) / 8;
    const unsigned grid = grid_stride_blocks(groups, kThreads);
    nf4_dequantize_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        out, packed, absmax_q, nested_absmax, nested_code, code, offset, numel, vec);
    QF_CUDA_LAUNCH_CHECK();
}

void nf4_dequantize_bf16(void* stream, uint16_t* out, int64_t ld_out, const uint8_t* packed,
                         const uint8_t* absmax_q, const float* nested_absmax,
                         const float* nested_code, const float* code, float offset, int64_t rows,
                         int64_t cols) {
    const int64_t numel = rows * cols;
    const bool vec = ld_out % 8 == 0 && reinterpret_cast<uintptr_t>(packed) % 4 == 0 &&
                     reinterpret_cast<uintptr_t>(out) % 16 == 0;
    const unsigned grid = grid_stride_blocks((numel + 7) / 8, kThreads);
    const auto s = static_cast<cudaStream_t>(stream);
    if (vec && cols % 256 == 0) {
        // spans of 8 steps: 4 steps (twice the warps) measured no faster, even at (1024, 4096)
        nf4_dequantize_bf16_rows_kernel<8>
            <<<grid_stride_blocks((numel + 2047) / 2048, kWarps), kThreads, 0, s>>>(
                out, ld_out, packed, absmax_q, nested_absmax, nested_code, code, offset, numel,
                cols);
        QF_CUDA_LAUNCH_CHECK();
        return;
    }
    // Below INT_MAX - 8 neither the group index, 8 * group nor its grid stride wraps in 32 bits.
    if (numel <= INT_MAX - 8) {
        nf4_dequantize_bf16_kernel<uint32_t><<<grid, kThreads, 0, s>>>(
            out, ld_out, packed, absmax_q, nested_absmax, nested_code, code, offset,
            static_cast<uint32_t>(numel), static_cast<uint32_t>(cols), vec);
    } else {
        nf4_dequantize_bf16_kernel<int64_t>
            <<<grid, kThreads, 0, s>>>(out, ld_out, packed, absmax_q, nested_absmax, nested_code,
                                       code, offset, numel, cols, vec);
    }
    QF_CUDA_LAUNCH_CHECK();
}

void nf4_quantize(void* stream, const float* w, int64_t numel, uint8_t* packed, uint8_t* absmax_q,
                  float* nested_absmax, float* offset, const float* dynamic_map) {
    const auto s = static_cast<cudaStream_t>(stream);
    const int64_t blocks = (numel + kBlock - 1) / kBlock;
    const int64_t groups = (blocks + kNested - 1) / kNested;
    void* scratch = nullptr;
    const auto absmax_bytes = static_cast<size_t>(blocks) * sizeof(float);
    const size_t partial_at = (absmax_bytes + 15) / 16 * 16;
    QF_CUDA_CHECK(
        cudaMallocAsync(&scratch, partial_at + static_cast<size_t>(groups) * sizeof(double), s));
    auto* absmax = static_cast<float*>(scratch);
    auto* partials = reinterpret_cast<double*>(static_cast<char*>(scratch) + partial_at);

    nf4_quantize_codes_kernel<<<blocks_for(blocks * 32, kThreads), kThreads, 0, s>>>(
        w, numel, packed, absmax, blocks);
    QF_CUDA_LAUNCH_CHECK();
    nf4_absmax_partials_kernel<<<blocks_for(groups, 128), 128, 0, s>>>(absmax, blocks, partials,
                                                                       groups);
    QF_CUDA_LAUNCH_CHECK();
    nf4_offset_kernel<<<1, 1, 0, s>>>(partials, groups, blocks, offset);
    QF_CUDA_LAUNCH_CHECK();
    DynamicMap map{};
    for (int k = 0; k < 256; k++) {
        map.v[k] = dynamic_map[k];
    }
    nf4_quantize_absmax_kernel<<<static_cast<unsigned>(groups), static_cast<int>(kNested), 0, s>>>(
        absmax, blocks, offset, nested_absmax, absmax_q, map);
    QF_CUDA_LAUNCH_CHECK();
    QF_CUDA_CHECK(cudaFreeAsync(scratch, s));
}

}  // namespace qforge::kernels::cuda
