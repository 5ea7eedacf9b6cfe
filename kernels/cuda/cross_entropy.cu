// What is here: cross_entropy_forward/backward (and backward_bf16) on CUDA
// (kernels/cuda/pointwise.h). One block per row; each thread keeps an online (max, sum of exp) over
// its strided logits (float4 loads when rows are 16-byte aligned), merged across the block; fp32
// math. Nothing is allocated: the only memory touched is the logits, the outputs and the saved lse.
#include <cstdint>

#include <cuda_bf16.h>

#include "kernels/cuda/bad_index.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 512;

__device__ unsigned long long g_cross_entropy_bad_row;

struct MaxSum {
    float m;  // running max (-inf: nothing seen)
    float s;  // sum of exp(x - m)
};

__device__ inline MaxSum add_value(MaxSum a, float x) {
    if (x > a.m) {
        a.s = a.s * expf(a.m - x) + 1.0f;  // exp(-inf) = 0 for the first value
        a.m = x;
    } else {
        a.s += expf(x - a.m);
    }
    return a;
}

__device__ inline MaxSum merge(MaxSum a, MaxSum b) {
    if (b.m == -INFINITY) {
        return a;
    }
    if (a.m == -INFINITY) {
        return b;
    }
    const float m = fmaxf(a.m, b.m);
    return MaxSum{m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

// log sum exp of one row over the whole block; every thread gets it
template <bool kVec4>
__device__ float row_lse(const float* row, int64_t V) {
    __shared__ MaxSum scratch[32];
    MaxSum acc{-INFINITY, 0.0f};
    if constexpr (kVec4) {
        const auto* row4 = reinterpret_cast<const float4*>(row);
        for (int64_t v = threadIdx.x; v < V / 4; v += blockDim.x) {
            const float4 x = row4[v];
            acc = add_value(add_value(add_value(add_value(acc, x.x), x.y), x.z), x.w);
        }
    } else {
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
            acc = add_value(acc, row[v]);
        }
    }
    for (int off = 16; off > 0; off >>= 1) {
        const MaxSum other{__shfl_xor_sync(0xffffffffu, acc.m, off),
                           __shfl_xor_sync(0xffffffffu, acc.s, off)};
        acc = merge(acc, other);
    }
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
    if (lane == 0) {
        scratch[warp] = acc;
    }
    __syncthreads();
    MaxSum total{-INFINITY, 0.0f};
    for (int w = 0; w < static_cast<int>(blockDim.x) / 32; w++) {
        total = merge(total, scratch[w]);
    }
    __syncthreads();
    return total.m + logf(total.s);
}

// one block per row n
template <bool kVec4>
__global__ void cross_entropy_forward_kernel(float* losses, float* lse, const float* logits,
                                             const int32_t* targets, int64_t V,
                                             int32_t ignore_index, unsigned long long* bad) {
    const int64_t n = blockIdx.x;
    const float* row = logits + n * V;
    const float l = row_lse<kVec4>(row, V);
    if (threadIdx.x != 0) {
        return;
    }
    if (lse != nullptr) {
        lse[n] = l;
    }
    const int32_t t = targets[n];
    if (t == ignore_index) {
        losses[n] = 0.0f;
    } else if (t < 0 || t >= V) {
        losses[n] = NAN;
        report_bad_row(bad, n);
    } else {
        losses[n] = l - row[t];
    }
}

// one block per row n; dlogits may alias logits (lse is known before any element is written)
template <bool kVec4>
__global__ void cross_entropy_backward_kernel(float* dlogits, const float* logits, const float* lse,
                                              const int32_t* targets, const float* dloss, int64_t V,
                                              int32_t ignore_index) {
    const int64_t n = blockIdx.x;
    const float* row = logits + n * V;
    float* drow = dlogits + n * V;
    const int32_t t = targets[n];
    const bool zero = t == ignore_index || t < 0 || t >= V;
    float l = 0.0f;
    if (!zero) {
        l = lse != nullptr ? lse[n] : row_lse<kVec4>(row, V);
    }
    const float g = zero ? 0.0f : dloss[n];
    if constexpr (kVec4) {
        const auto* row4 = reinterpret_cast<const float4*>(row);
        auto* drow4 = reinterpret_cast<float4*>(drow);
        for (int64_t v = threadIdx.x; v < V / 4; v += blockDim.x) {
            float4 d{0.0f, 0.0f, 0.0f, 0.0f};
            if (!zero) {
                const float4 x = row4[v];
                const int64_t base = 4 * v;
                d.x = (expf(x.x - l) - (base == t ? 1.0f : 0.0f)) * g;
                d.y = (expf(x.y - l) - (base + 1 == t ? 1.0f : 0.0f)) * g;
                d.z = (expf(x.z - l) - (base + 2 == t ? 1.0f : 0.0f)) * g;
                d.w = (expf(x.w - l) - (base + 3 == t ? 1.0f : 0.0f)) * g;
            }
            drow4[v] = d;
        }
    } else {
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
            drow[v] = zero ? 0.0f : (expf(row[v] - l) - (v == t ? 1.0f : 0.0f)) * g;
        }
    }
}

__device__ inline uint32_t bf16_bits_rn(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// cross_entropy_backward_kernel with bf16 rows of stride ld: vec4 loads 4 logits and stores their
// 4 gradients as 8 bytes (ld % 4 == 0, 8-byte aligned rows).
template <bool kVec4>
__global__ void cross_entropy_backward_bf16_kernel(uint16_t* dlogits, int64_t ld,
                                                   const float* logits, const float* lse,
                                                   const int32_t* targets, const float* dloss,
                                                   int64_t V, int32_t ignore_index) {
    const int64_t n = blockIdx.x;
    const float* row = logits + n * V;
    uint16_t* drow = dlogits + n * ld;
    const int32_t t = targets[n];
    const bool zero = t == ignore_index || t < 0 || t >= V;
    float l = 0.0f;
    if (!zero) {
        l = lse != nullptr ? lse[n] : row_lse<kVec4>(row, V);
    }
    const float g = zero ? 0.0f : dloss[n];
    auto grad = [&](float x, int64_t v) {
        return zero ? 0.0f : (expf(x - l) - (v == t ? 1.0f : 0.0f)) * g;
    };
    if constexpr (kVec4) {
        const auto* row4 = reinterpret_cast<const float4*>(row);
        auto* drow4 = reinterpret_cast<uint2*>(drow);
        for (int64_t v = threadIdx.x; v < V / 4; v += blockDim.x) {
            const float4 x = row4[v];
            const int64_t b = 4 * v;
            drow4[v] =
                make_uint2(bf16_bits_rn(grad(x.x, b)) | (bf16_bits_rn(grad(x.y, b + 1)) << 16),
                           bf16_bits_rn(grad(x.z, b + 2)) | (bf16_bits_rn(grad(x.w, b + 3)) << 16));
        }
    } else {
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
            drow[v] = static_cast<uint16_t>(bf16_bits_rn(grad(row[v], v)));
        }
    }
}

bool rows_vec4(const void* a, const void* b, int64_t V) {
    return V % 4 == 0 && reinterpret_cast<uintptr_t>(a) % 16 == 0 &&
           reinterpret_cast<uintptr_t>(b) % 16 == 0;
}

}  // namespace

BadIndex cross_entropy_forward(void* stream, float* losses, float* lse, const float* logits,
                               const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index) {
    if (N == 0) {
        return {};
    }
    const auto s = static_cast<cudaStream_t>(stream);
    unsigned long long* bad = record_address(g_cross_entropy_bad_row);
    reset_bad_row(s, bad);
    const auto grid = static_cast<unsigned>(N);
    if (rows_vec4(logits, logits, V)) {
        cross_entropy_forward_kernel<true>
            <<<grid, kThreads, 0, s>>>(losses, lse, logits, targets, V, ignore_index, bad);
    } else {
        cross_entropy_forward_kernel<false>
            <<<grid, kThreads, 0, s>>>(losses, lse, logits, targets, V, ignore_index, bad);
    }
    QF_CUDA_LAUNCH_CHECK();
    return read_bad_row(s, bad, targets);
}

void cross_entropy_backward(void* stream, float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, const float* dloss, int64_t N, int64_t V,
                            int32_t ignore_index) {
    if (N == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    const auto grid = static_cast<unsigned>(N);
    if (rows_vec4(logits, dlogits, V)) {
        cross_entropy_backward_kernel<true>
            <<<grid, kThreads, 0, s>>>(dlogits, logits, lse, targets, dloss, V, ignore_index);
    } else {
        cross_entropy_backward_kernel<false>
            <<<grid, kThreads, 0, s>>>(dlogits, logits, lse, targets, dloss, V, ignore_index);
    }
    QF_CUDA_LAUNCH_CHECK();
}

void cross_entropy_backward_bf16(void* stream, uint16_t* dlogits, int64_t ld, const float* logits,
                                 const float* lse, const int32_t* targets, const float* dloss,
                                 int64_t N, int64_t V, int32_t ignore_index) {
    if (N == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    const auto grid = static_cast<unsigned>(N);
    const bool vec4 = V % 4 == 0 && ld % 4 == 0 && reinterpret_cast<uintptr_t>(logits) % 16 == 0 &&
                      reinterpret_cast<uintptr_t>(dlogits) % 8 == 0;
    if (vec4) {
        cross_entropy_backward_bf16_kernel<true>
            <<<grid, kThreads, 0, s>>>(dlogits, ld, logits, lse, targets, dloss, V, ignore_index);
    } else {
        cross_entropy_backward_bf16_kernel<false>
            <<<grid, kThreads, 0, s>>>(dlogits, ld, logits, lse, targets, dloss, V, ignore_index);
    }
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
