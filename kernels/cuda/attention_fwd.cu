// What is here: the flash-attention forward (attention_forward of kernels/cuda/dense.h) and the
// backward's dot(dout, out) preprocessing, fp32 on CUDA cores (with tensor_cores, head_dim 64
// and 128 go to the kernels of attention_tc.cu). Never materialises the T x
// Tk scores: a block walks the key tiles of its query tile with an online softmax (running max m
// and sum l per row, in log2 units), so memory is O(T D).
//
// Block: 4 warps x 8 query rows = 32 queries of one (batch, head); key tiles of 32.
//   QK^T: lane j scores key j of the tile against the warp's 8 rows (K tile padded to DP+4 floats
//         per row so the lanes' float4 reads hit distinct banks; q rows are broadcast reads).
//   PV:   lane owns dims lane, lane+32, ... of the warp's 8 output rows; P goes through shared
//         memory (float4 broadcast reads) and each V value read is used 8 times from a register.
// Query tiles are launched last-first: causal rows near the end see the most keys.
#include <cuda_runtime.h>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/dense.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kRows = 8;             // query rows per warp
constexpr int kBq = kWarps * kRows;  // query rows per block
constexpr int kBk = 32;              // keys per tile: one per lane
constexpr int kPStride = kBk + 4;

template <int DP>
constexpr int fwd_smem_floats() {
    return kBq * DP + kBk * (DP + 4) + kBk * DP + kWarps * kRows * kPStride + kBk;
}

__device__ inline float f4_get(const float4& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// kDsum == false: out and lse of the forward. kDsum == true: P = exp2(s - lse) from the saved
// lse (no online rescaling) and, instead of out, dsum = dot(dout, out) per row.
template <int DP, bool kDsum>
__global__ void __launch_bounds__(kWarps * 32)
    attn_fwd_kernel(AttnParams p, float scale_log2, const float* dout, float* dsum) {
    constexpr int kDl = DP / 32;  // dims per lane
    extern __shared__ __align__(128) float4 smem4[];
    float* sQ = reinterpret_cast<float*>(smem4);  // [kBq][DP], pre-scaled by scale_log2
    float* sK = sQ + kBq * DP;                    // [kBk][DP+4]
    float* sV = sK + kBk * (DP + 4);              // [kBk][DP]
    float* sP = sV + kBk * DP;                    // [kWarps][kRows][kPStride]
    auto* sSeg = reinterpret_cast<int32_t*>(sP + kWarps * kRows * kPStride);  // [kBk]

    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int64_t t0 = (gridDim.x - 1 - blockIdx.x) * static_cast<int64_t>(kBq);
    const int64_t h = blockIdx.y, b = blockIdx.z;
    const int64_t g = h / (p.Hq / p.Hkv);
    const float* qb = p.q + b * p.q_batch_stride + h * p.D;
    const float* kb = p.k + b * p.kv_batch_stride + g * p.D;
    const float* vb = p.v + b * p.kv_batch_stride + g * p.D;
    const int32_t* seg = p.segment_ids != nullptr ? p.segment_ids + b * p.T : nullptr;

    attn_load_tile<kBq, DP, DP>(sQ, qb, p.q_row_stride, t0, p.T, p.D, scale_log2);

    int64_t trow[kRows];
    int32_t seg_row[kRows];
    float m[kRows], l[kRows], acc[kRows][kDl];
#pragma unroll
    for (int r = 0; r < kRows; r++) {
        trow[r] = t0 + warp * kRows + r;
        const bool valid = trow[r] < p.T;
        seg_row[r] = (seg != nullptr && valid) ? seg[trow[r]] : 0;
        if constexpr (kDsum) {
            m[r] = valid ? p.lse[(b * p.Hq + h) * p.T + trow[r]] * kLog2e : 0.0f;
        } else {
            m[r] = -INFINITY;
        }
        l[r] = 0.0f;
#pragma unroll
        for (int i = 0; i < kDl; i++) {
            acc[r][i] = 0.0f;
        }
    }

    const int64_t t_last = (t0 + kBq < p.T ? t0 + kBq : p.T) - 1;
    const int64_t kend = p.q_pos0 + t_last + 1;  // keys [0, kend) are visible to some row
    float* myP = sP + warp * kRows * kPStride;
    for (int64_t k0 = 0; k0 < kend; k0 += kBk) {
        __syncthreads();  // the previous tile is consumed
        attn_load_tile<kBk, DP, DP + 4>(sK, kb, p.kv_row_stride, k0, kend, p.D, 1.0f);
        attn_load_tile<kBk, DP, DP>(sV, vb, p.kv_row_stride, k0, kend, p.D, 1.0f);
        if (seg != nullptr && threadIdx.x < kBk) {
            const int64_t key = k0 + threadIdx.x;
            sSeg[threadIdx.x] = key < p.T ? seg[key] : -1;
        }
        __syncthreads();

        float s[kRows];
#pragma unroll
        for (int r = 0; r < kRows; r++) {
            s[r] = 0.0f;
        }
#pragma unroll 4
        for (int d = 0; d < DP; d += 4) {
            const float4 kv = *reinterpret_cast<const float4*>(&sK[lane * (DP + 4) + d]);
#pragma unroll
            for (int r = 0; r < kRows; r++) {
                const float4 qv =
                    *reinterpret_cast<const float4*>(&sQ[(warp * kRows + r) * DP + d]);
                s[r] += qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
            }
        }
        const int64_t key = k0 + lane;
        const int32_t seg_key = seg != nullptr ? sSeg[lane] : 0;
#pragma unroll
        for (int r = 0; r < kRows; r++) {
            const bool vis = attn_visible(p, trow[r], key, seg_row[r], seg_key);
            float prob;
            if constexpr (kDsum) {
                prob = vis ? exp2f(s[r] - m[r]) : 0.0f;
            } else {
                const float sv = vis ? s[r] : -INFINITY;
                const float m_new = fmaxf(m[r], warp_max(sv));
                const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // all masked so far
                prob = exp2f(sv - m_use);
                const float alpha = exp2f(m[r] - m_use);
                l[r] = l[r] * alpha + warp_sum(prob);
#pragma unroll
                for (int i = 0; i < kDl; i++) {
                    acc[r][i] *= alpha;
                }
                m[r] = m_new;
            }
            myP[r * kPStride + lane] = prob;
        }
        __syncwarp();

        const int64_t left = kend - k0;
        const int nk = left < kBk ? static_cast<int>(left) : kBk;
        for (int j4 = 0; j4 < nk; j4 += 4) {
            float4 p4[kRows];
#pragma unroll
            for (int r = 0; r < kRows; r++) {
                p4[r] = *reinterpret_cast<const float4*>(&myP[r * kPStride + j4]);
            }
#pragma unroll
            for (int jj = 0; jj < 4; jj++) {
                const float* vrow = sV + (j4 + jj) * DP;
#pragma unroll
                for (int i = 0; i < kDl; i++) {
                    const float vv = vrow[lane + 32 * i];
#pragma unroll
                    for (int r = 0; r < kRows; r++) {
                        acc[r][i] += f4_get(p4[r], jj) * vv;
                    }
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < kRows; r++) {
        const int64_t t = trow[r];
        if (t >= p.T) {  // uniform over the warp
            continue;
        }
        const int64_t row = b * p.q_batch_stride + t * p.q_row_stride + h * p.D;
        if constexpr (kDsum) {
            float dot = 0.0f;
#pragma unroll
            for (int i = 0; i < kDl; i++) {
                const int d = lane + 32 * i;
                if (d < p.D) {
                    dot += acc[r][i] * dout[row + d];
                }
            }
            dot = warp_sum(dot);
            if (lane == 0) {
                dsum[(b * p.Hq + h) * p.T + t] = dot;
            }
        } else {
            const float inv = 1.0f / l[r];
#pragma unroll
            for (int i = 0; i < kDl; i++) {
                const int d = lane + 32 * i;
                if (d < p.D) {
                    p.out[row + d] = acc[r][i] * inv;
                }
            }
            if (p.lse != nullptr && lane == 0) {
                p.lse[(b * p.Hq + h) * p.T + t] = (m[r] + log2f(l[r])) * kLn2;
            }
        }
    }
}

// One warp per query row (b, t, h): dsum = dot(dout, out).
__global__ void attn_dot_kernel(AttnParams p, const float* dout, float* dsum) {
    const int64_t row = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    if (row >= p.B * p.Hq * p.T) {
        return;
    }
    const int64_t t = row % p.T, h = (row / p.T) % p.Hq, b = row / (p.T * p.Hq);
    const int64_t off = b * p.q_batch_stride + t * p.q_row_stride + h * p.D;
    float dot = 0.0f;
    for (int64_t d = lane; d < p.D; d += 32) {
        dot += dout[off + d] * p.out[off + d];
    }
    dot = warp_sum(dot);
    if (lane == 0) {
        dsum[row] = dot;  // row = (b*Hq + h)*T + t
    }
}

template <bool kDsum>
void launch_fwd(cudaStream_t stream, const AttnParams& p, const float* dout, float* dsum) {
    const dim3 grid(static_cast<unsigned>((p.T + kBq - 1) / kBq), static_cast<unsigned>(p.Hq),
                    static_cast<unsigned>(p.B));
    const float scale_log2 = attn_scale_log2(p.D);
    attn_head_dim_switch(p.D, [&]<int DP>() {
        constexpr size_t smem = sizeof(float) * fwd_smem_floats<DP>();
        QF_CUDA_CHECK(cudaFuncSetAttribute(attn_fwd_kernel<DP, kDsum>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(smem)));
        attn_fwd_kernel<DP, kDsum><<<grid, kWarps * 32, smem, stream>>>(p, scale_log2, dout, dsum);
        QF_CUDA_LAUNCH_CHECK();
    });
}

}  // namespace

void attention_forward(void* stream, const AttnParams& p, bool tensor_cores) {
    if (p.B == 0 || p.T == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    if (tensor_cores && attention_tc_fits(p.D)) {
        return attention_tc_forward(s, p, nullptr, nullptr);
    }
    launch_fwd<false>(s, p, nullptr, nullptr);
}

void attention_dsum(cudaStream_t stream, const AttnParams& p, const float* dout, float* dsum,
                    bool tensor_cores) {
    if (p.out != nullptr) {
        const int64_t threads = p.B * p.Hq * p.T * 32;
        attn_dot_kernel<<<blocks_for(threads, 256), 256, 0, stream>>>(p, dout, dsum);
        QF_CUDA_LAUNCH_CHECK();
        return;
    }
    if (tensor_cores) {
        return attention_tc_forward(stream, p, dout, dsum);
    }
    launch_fwd<true>(stream, p, dout, dsum);
}

}  // namespace qforge::kernels::cuda
