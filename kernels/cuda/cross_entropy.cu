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
        if (bad != nullptr) {
            report_bad_row(bad, n);
        }
    } else {
        losses[n] = l - row[t];
    }
}

// The stores of cross_entropy_backward_kernel: fp32 as it is, or bf16 rounded to nearest even
// (4 values: 16 or 8 bytes).
__device__ inline void store1(float* p, float x) {
    *p = x;
}

__device__ inline void store1(uint16_t* p, float x) {
    *p = __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

__device__ inline void store4(float* p, float a, float b, float c, float d) {
    *reinterpret_cast<float4*>(p) = make_float4(a, b, c, d);
}

__device__ inline uint32_t bf16_bits_rn(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

__device__ inline void store4(uint16_t* p, float a, float b, float c, float d) {
    *reinterpret_cast<uint2*>(p) = make_uint2(bf16_bits_rn(a) | (bf16_bits_rn(b) << 16),
                                              bf16_bits_rn(c) | (bf16_bits_rn(d) << 16));
}

// one block per row n, dlogits rows of stride ld; fp32 dlogits may alias logits (lse is known
// before any element is written, and an ignored row's logits are never read). Vec4: 16-byte
// logit loads and 4-value stores (rows aligned for both).
template <bool kVec4, typename Out>
__global__ void cross_entropy_backward_kernel(Out* dlogits, int64_t ld, const float* logits,
                                              const float* lse, const int32_t* targets,
                                              const float* dloss, int64_t V, int32_t ignore_index) {
    const int64_t n = blockIdx.x;
    const float* row = logits + n * V;
    Out* drow = dlogits + n * ld;
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
        for (int64_t v = threadIdx.x; v < V / 4; v += blockDim.x) {
            const float4 x = zero ? make_float4(0.0f, 0.0f, 0.0f, 0.0f) : row4[v];
            const int64_t b = 4 * v;
            store4(drow + b, grad(x.x, b), grad(x.y, b + 1), grad(x.z, b + 2), grad(x.w, b + 3));
        }
    } else {
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
            store1(drow + v, zero ? 0.0f : grad(row[v], v));
        }
    }
}

bool rows_vec4(const void* a, const void* b, int64_t V) {
    return V % 4 == 0 && reinterpret_cast<uintptr_t>(a) % 16 == 0 &&
           reinterpret_cast<uintptr_t>(b) % 16 == 0;
}

}  // namespace

BadIndex cross_entropy_forward(void* stream, float* losses, float* lse, const float* logits,
                               const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index,
                               bool report) {
    if (N == 0) {
        return {};
    }
    const auto s = static_cast<cudaStream_t>(stream);
    unsigned long long* bad = report ? record_address(g_cross_entropy_bad_row) : nullptr;
    if (report) {
        reset_bad_row(s, bad);
    }
    const auto grid = static_cast<unsigned>(N);
    if (rows_vec4(logits, logits, V)) {
        cross_entropy_forward_kernel<true>
            <<<grid, kThreads, 0, s>>>(losses, lse, logits, targets, V, ignore_index, bad);
    } else {
        cross_entropy_forward_kernel<false>
            <<<grid, kThreads, 0, s>>>(losses, lse, logits, targets, V, ignore_index, bad);
    }
    QF_CUDA_LAUNCH_CHECK();
    return report ? read_bad_row(s, bad, targets) : BadIndex{};
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
            <<<grid, kThreads, 0, s>>>(dlogits, V, logits, lse, targets, dloss, V, ignore_index);
    } else {
        cross_entropy_backward_kernel<false>
            <<<grid, kThreads, 0, s>>>(dlogits, V, logits, lse, targets, dloss, V, ignore_index);
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
        cross_entropy_backward_kernel<true>
            <<<grid, kThreads, 0, s>>>(dlogits, ld, logits, lse, targets, dloss, V, ignore_index);
    } else {
        cross_entropy_backward_kernel<false>
            <<<grid, kThreads, 0, s>>>(dlogits, ld, logits, lse, targets, dloss, V, ignore_index);
    }
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
