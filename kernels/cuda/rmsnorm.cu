// What is here: rmsnorm_forward/backward on CUDA (kernels/cuda/pointwise.h). fp32 math; the
// CPU twin (kernels/cpu/rmsnorm.cpp) has the formulas. rmsnorm_forward_bf16 shares the row sum
// and the value (x * s * w) with rmsnorm_forward, so its rstd and its values before rounding
// (__float2bfloat16_rn) are rmsnorm_forward's bit for bit.
// Memory-bound: each op reads its rows once. When C % 4 == 0, C <= 4 * 8 * 512 and the row
// pointers are 16-byte aligned, one block per row keeps the row in registers (up to 8 float4 per
// thread, float4 loads), reduces it, and writes from the registers (the register path); otherwise
// a block strides over the row twice (the second pass from L1/L2).
#include <cstdint>

#include <cuda_bf16.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

int row_threads(int64_t C) {
    return C >= 1024 ? 512 : (C >= 256 ? 256 : 64);
}

// 1 / sqrt(mean(x^2) + eps) of one row, on every thread of the block (threads stride over C).
__device__ inline float row_rstd(const float* x, int64_t C, float eps, float* scratch) {
    float sum_sq = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        sum_sq += x[c] * x[c];
    }
    sum_sq = block_sum(sum_sq, scratch);
    return 1.0f / sqrtf(sum_sq / static_cast<float>(C) + eps);
}

__device__ inline uint32_t bf16_bits(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// one block per row; threads stride over C. out may alias inp (each element is read before
// the barrier inside block_sum and written by the thread that read it).
__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* inp,
                                       const float* weight, int64_t C, float eps) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float s = row_rstd(x, C, eps, scratch);
    float* y = out + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        y[c] = x[c] * s * weight[c];
    }
    if (rstd != nullptr && threadIdx.x == 0) {
        rstd[n] = s;
    }
}

// one block per row, as rmsnorm_forward_kernel; the second pass reads (L1/L2-resident) row again
// as float4 when Vec4 (C % 4 == 0, inp and weight 16-byte, out rows 8-byte aligned).
template <bool Vec4>
__global__ void rmsnorm_forward_bf16_kernel(uint16_t* out, int64_t ld_out, float* rstd,
                                            const float* inp, const float* weight, int64_t C,
                                            float eps) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float s = row_rstd(x, C, eps, scratch);
    uint16_t* y = out + n * ld_out;
    if constexpr (Vec4) {
        const auto* x4 = reinterpret_cast<const float4*>(x);
        const auto* w4 = reinterpret_cast<const float4*>(weight);
        for (int64_t q = threadIdx.x; q < C / 4; q += blockDim.x) {
            const float4 v = x4[q];
            const float4 w = __ldg(w4 + q);
            uint2 packed;
            packed.x = bf16_bits(v.x * s * w.x) | (bf16_bits(v.y * s * w.y) << 16);
            packed.y = bf16_bits(v.z * s * w.z) | (bf16_bits(v.w * s * w.w) << 16);
            *reinterpret_cast<uint2*>(y + 4 * q) = packed;
        }
    } else {
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            y[c] = static_cast<uint16_t>(bf16_bits(x[c] * s * weight[c]));
        }
    }
    if (rstd != nullptr && threadIdx.x == 0) {
        rstd[n] = s;
    }
}

// one block per row; dinp += rstd * w * dy - x * rstd^3 / C * sum(dy * w * x)
__global__ void rmsnorm_backward_dinp_kernel(float* dinp, const float* dout, const float* inp,
                                             const float* weight, const float* rstd, int64_t C) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const float* x = inp + n * C;
    const float* dy = dout + n * C;
    float dot = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        dot += dy[c] * weight[c] * x[c];
    }
    dot = block_sum(dot, scratch);
    const float s = rstd[n];
    const float coef = s * s * s * dot / static_cast<float>(C);
    float* dx = dinp + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        dx[c] += s * weight[c] * dy[c] - x[c] * coef;
    }
}

constexpr int kColumns = 32;   // channels per block of the dweight reduction
constexpr int kRowLanes = 16;  // row strides per block

// block (32, 16) per 32 channels: threadIdx.y strides over rows, then a fixed-order sum over y
__global__ void rmsnorm_backward_dweight_kernel(float* dweight, const float* dout, const float* inp,
                                                const float* rstd, int64_t N, int64_t C) {
    __shared__ float part[kRowLanes][kColumns];
    const int64_t c = blockIdx.x * static_cast<int64_t>(kColumns) + threadIdx.x;
    float acc = 0.0f;
    if (c < C) {
        for (int64_t n = threadIdx.y; n < N; n += kRowLanes) {
            acc += dout[n * C + c] * inp[n * C + c] * rstd[n];
        }
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float total = 0.0f;
        for (int y = 0; y < kRowLanes; y++) {
            total += part[y][threadIdx.x];
        }
        dweight[c] += total;
    }
}

// ---- register path: the row in registers, float4 loads --------------------------------------

constexpr int kMaxVecPerThread = 8;  // float4 of one row per thread, at most
constexpr int kTargetThreads = 256;  // threads per row block, when the row allows
constexpr int kMaxRowThreads = 512;  // the register kernels' __launch_bounds__
constexpr int64_t kMaxRegisterC = 4 * kMaxVecPerThread * kMaxRowThreads;

// The register path's shape for a row of C floats: K float4 per thread, `threads` per block.
struct RowShape {
    int K = 0;  // 0: the row does not fit (or C % 4 != 0): the striding kernels run
    int threads = 0;
};

RowShape register_shape(int64_t C) {
    if (C % 4 != 0 || C > kMaxRegisterC) {
        return {};
    }
    const int64_t c4 = C / 4;
    int K = static_cast<int>((c4 + kTargetThreads - 1) / kTargetThreads);
    K = K < 1 ? 1 : K;
    // K in {1, 2, 4, 8}: the instantiated kernels
    K = K <= 1 ? 1 : (K <= 2 ? 2 : (K <= 4 ? 4 : 8));
    const int64_t threads = (c4 + K - 1) / K;
    return {K, static_cast<int>((threads + 31) / 32 * 32)};
}

bool aligned16(const void* p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Thread t's float4 k of a row is element t + k * blockDim.x (coalesced); those past c4 are 0.
template <int K>
__device__ inline void load_row(const float4* row, int64_t c4, float4 (&v)[K]) {
#pragma unroll
    for (int k = 0; k < K; k++) {
        const int64_t q = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
        v[k] = q < c4 ? row[q] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
}

// 1 / sqrt(mean(x^2) + eps) of a register row, on every thread: the partial sums in a fixed
// order, then block_sum. rmsnorm_forward and rmsnorm_forward_bf16 both call it.
template <int K>
__device__ inline float register_row_rstd(const float4 (&v)[K], int64_t C, float eps,
                                          float* scratch) {
    float sum_sq = 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++) {
        sum_sq += v[k].x * v[k].x;
        sum_sq += v[k].y * v[k].y;
        sum_sq += v[k].z * v[k].z;
        sum_sq += v[k].w * v[k].w;
    }
    sum_sq = block_sum(sum_sq, scratch);
    return 1.0f / sqrtf(sum_sq / static_cast<float>(C) + eps);
}

// One block per row. Bf16: out is bf16 words with row stride ld_out, 8-byte stores when
// vec_out, else per value; fp32: out (N, C) (may alias inp: every value is in registers before
// the first store), float4 stores when vec_out.
template <int K, bool Bf16>
__global__ __launch_bounds__(kMaxRowThreads) void rmsnorm_forward_register_kernel(
    void* out, int64_t ld_out, bool vec_out, float* rstd, const float* inp, const float* weight,
    int64_t C, float eps) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const int64_t c4 = C / 4;
    float4 v[K];
    load_row<K>(reinterpret_cast<const float4*>(inp + n * C), c4, v);
    const float s = register_row_rstd<K>(v, C, eps, scratch);
    const auto* w4 = reinterpret_cast<const float4*>(weight);
#pragma unroll
    for (int k = 0; k < K; k++) {
        const int64_t q = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
        if (q >= c4) {
            break;
        }
        const float4 w = __ldg(w4 + q);
        const float y[4] = {v[k].x * s * w.x, v[k].y * s * w.y, v[k].z * s * w.z, v[k].w * s * w.w};
        if constexpr (Bf16) {
            uint16_t* dst = static_cast<uint16_t*>(out) + n * ld_out + 4 * q;
            if (vec_out) {
                uint2 packed;
                packed.x = bf16_bits(y[0]) | (bf16_bits(y[1]) << 16);
                packed.y = bf16_bits(y[2]) | (bf16_bits(y[3]) << 16);
                *reinterpret_cast<uint2*>(dst) = packed;
            } else {
                for (int e = 0; e < 4; e++) {
                    dst[e] = static_cast<uint16_t>(bf16_bits(y[e]));
                }
            }
        } else {
            float* dst = static_cast<float*>(out) + n * C + 4 * q;
            if (vec_out) {
                *reinterpret_cast<float4*>(dst) = make_float4(y[0], y[1], y[2], y[3]);
            } else {
                for (int e = 0; e < 4; e++) {
                    dst[e] = y[e];
                }
            }
        }
    }
    if (rstd != nullptr && threadIdx.x == 0) {
        rstd[n] = s;
    }
}

// One block per row: dinp += rstd * w * dy - x * rstd^3 / C * sum(dy * w * x), with dy, x and
// the dinp being added to loaded into registers before the reduction.
template <int K>
__global__ __launch_bounds__(kMaxRowThreads) void rmsnorm_backward_dinp_register_kernel(
    float* dinp, const float* dout, const float* inp, const float* weight, const float* rstd,
    int64_t C) {
    __shared__ float scratch[32];
    const int64_t n = blockIdx.x;
    const int64_t c4 = C / 4;
    float4 dy[K], x[K], acc[K];
    load_row<K>(reinterpret_cast<const float4*>(dout + n * C), c4, dy);
    load_row<K>(reinterpret_cast<const float4*>(inp + n * C), c4, x);
    auto* dx4 = reinterpret_cast<float4*>(dinp + n * C);
    load_row<K>(dx4, c4, acc);
    const auto* w4 = reinterpret_cast<const float4*>(weight);
    float dot = 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++) {
        const int64_t q = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
        const float4 w = q < c4 ? __ldg(w4 + q) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        dot += dy[k].x * w.x * x[k].x;
        dot += dy[k].y * w.y * x[k].y;
        dot += dy[k].z * w.z * x[k].z;
        dot += dy[k].w * w.w * x[k].w;
    }
    dot = block_sum(dot, scratch);
    const float s = rstd[n];
    const float coef = s * s * s * dot / static_cast<float>(C);
#pragma unroll
    for (int k = 0; k < K; k++) {
        const int64_t q = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
        if (q >= c4) {
            break;
        }
        const float4 w = __ldg(w4 + q);
        float4 r = acc[k];
        r.x += s * w.x * dy[k].x - x[k].x * coef;
        r.y += s * w.y * dy[k].y - x[k].y * coef;
        r.z += s * w.z * dy[k].z - x[k].z * coef;
        r.w += s * w.w * dy[k].w - x[k].w * coef;
        dx4[q] = r;
    }
}

// Launches kernel<K> for the shape's K (1, 2, 4 or 8).
template <template <int> class Launch, typename... Args>
void with_k(int K, Args&&... args) {
    switch (K) {
        case 1:
            return Launch<1>::run(args...);
        case 2:
            return Launch<2>::run(args...);
        case 4:
            return Launch<4>::run(args...);
        default:
            return Launch<8>::run(args...);
    }
}

template <bool Bf16>
struct ForwardRegister {
    template <int K>
    struct At {
        static void run(cudaStream_t s, const RowShape& shape, int64_t N, void* out, int64_t ld_out,
                        bool vec_out, float* rstd, const float* inp, const float* weight, int64_t C,
                        float eps) {
            rmsnorm_forward_register_kernel<K, Bf16>
                <<<static_cast<unsigned>(N), shape.threads, 0, s>>>(out, ld_out, vec_out, rstd, inp,
                                                                    weight, C, eps);
        }
    };
};

template <int K>
struct BackwardRegister {
    static void run(cudaStream_t s, const RowShape& shape, int64_t N, float* dinp,
                    const float* dout, const float* inp, const float* weight, const float* rstd,
                    int64_t C) {
        rmsnorm_backward_dinp_register_kernel<K>
            <<<static_cast<unsigned>(N), shape.threads, 0, s>>>(dinp, dout, inp, weight, rstd, C);
    }
};

}  // namespace

void rmsnorm_forward(void* stream, float* out, float* rstd, const float* inp, const float* weight,
                     int64_t N, int64_t C, float eps) {
    if (N == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    const RowShape shape = register_shape(C);
    if (shape.K > 0 && aligned16(inp) && aligned16(weight)) {
        with_k<ForwardRegister<false>::template At>(shape.K, s, shape, N, out, C, aligned16(out),
                                                    rstd, inp, weight, C, eps);
    } else {
        rmsnorm_forward_kernel<<<static_cast<unsigned>(N), row_threads(C), 0, s>>>(out, rstd, inp,
                                                                                   weight, C, eps);
    }
    QF_CUDA_LAUNCH_CHECK();
}

void rmsnorm_forward_bf16(void* stream, uint16_t* out, int64_t ld_out, float* rstd,
                          const float* inp, const float* weight, int64_t N, int64_t C, float eps) {
    if (N == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    const auto grid = static_cast<unsigned>(N);
    const bool vec_out = ld_out % 4 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0;
    // the same path choice as rmsnorm_forward's (C and the inputs alone), so the row sums agree
    const RowShape shape = register_shape(C);
    if (shape.K > 0 && aligned16(inp) && aligned16(weight)) {
        with_k<ForwardRegister<true>::template At>(shape.K, s, shape, N, out, ld_out, vec_out, rstd,
                                                   inp, weight, C, eps);
    } else if (C % 4 == 0 && vec_out && aligned16(inp) && aligned16(weight)) {  // C too wide
        rmsnorm_forward_bf16_kernel<true>
            <<<grid, row_threads(C), 0, s>>>(out, ld_out, rstd, inp, weight, C, eps);
    } else {
        rmsnorm_forward_bf16_kernel<false>
            <<<grid, row_threads(C), 0, s>>>(out, ld_out, rstd, inp, weight, C, eps);
    }
    QF_CUDA_LAUNCH_CHECK();
}

void rmsnorm_backward(void* stream, float* dinp, float* dweight, const float* dout,
                      const float* inp, const float* weight, const float* rstd, int64_t N,
                      int64_t C) {
    if (N == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    if (dinp != nullptr) {
        const RowShape shape = register_shape(C);
        if (shape.K > 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) &&
            aligned16(weight)) {
            with_k<BackwardRegister>(shape.K, s, shape, N, dinp, dout, inp, weight, rstd, C);
        } else {
            rmsnorm_backward_dinp_kernel<<<static_cast<unsigned>(N), row_threads(C), 0, s>>>(
                dinp, dout, inp, weight, rstd, C);
        }
        QF_CUDA_LAUNCH_CHECK();
    }
    if (dweight != nullptr) {
        rmsnorm_backward_dweight_kernel<<<blocks_for(C, kColumns), dim3(kColumns, kRowLanes), 0,
                                          s>>>(dweight, dout, inp, rstd, N, C);
        QF_CUDA_LAUNCH_CHECK();
    }
}

}  // namespace qforge::kernels::cuda
