// What is here: the flash-attention backward (attention_backward of kernels/cuda/dense.h), FA2
// style, fp32 on CUDA cores (with tensor_cores, head_dim 64 and 128 go to attention_tc.cu). First
// dsum = dot(dout, out) per query row (attention_dsum), then one block per (key tile, chunk of
// query tiles, batch * query head) recomputes P from the saved lse and accumulates dK, dV for its
// 32 keys in registers, adding dQ of each query tile with atomics; at the end it adds dK, dV with
// atomics too (the query heads of a GQA group and the query chunks share them). The chunks keep
// causal work balanced: no block walks more than kChunk query tiles, however long the sequence.
//
// Block: 4 warps, a key tile of 32 and query tiles of 32.
//   S, dP: lane = query row, warp w = keys 8w..8w+7 (q/dout rows padded to DP+4 floats so the
//          lanes' float4 reads hit distinct banks; k/v rows are broadcast reads).
//   dV += P^T dO, dK += dS^T Q: lane owns dims lane, lane+32, ... of warp w's 8 keys.
//   dQ += dS K: warp w owns query rows 8w..8w+7, lane owns dims.
#include <cuda_runtime.h>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/dense.h"
#include "kernels/cuda/scratch.h"

namespace qforge::kernels::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kBkv = 32;  // keys per block
constexpr int kBq = 32;   // query rows per tile: one per lane
constexpr int kKeysPerWarp = kBkv / kWarps;
constexpr int kRowsPerWarp = kBq / kWarps;
constexpr int kChunk = 8;  // query tiles per block at most
constexpr int kSStride = kBkv + 4;

template <int DP>
constexpr int bwd_smem_floats() {
    return 2 * kBkv * DP + 2 * kBq * (DP + 4) + 2 * kBq * kSStride + 2 * kBq + kBkv + kBq;
}

__device__ inline float f4_get(const float4& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

__device__ inline float dot4(const float4& a, const float4& b) {
    return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}

template <int DP>
__global__ void __launch_bounds__(kWarps * 32)
    attn_bwd_kernel(AttnParams p, float scale, float scale_log2, const float* dout,
                    const float* dsum, float* dq, float* dk, float* dv) {
    constexpr int kDl = DP / 32;
    extern __shared__ __align__(128) float4 smem4[];
    float* sK = reinterpret_cast<float*>(smem4);            // [kBkv][DP]
    float* sV = sK + kBkv * DP;                             // [kBkv][DP]
    float* sQ = sV + kBkv * DP;                             // [kBq][DP+4]
    float* sO = sQ + kBq * (DP + 4);                        // [kBq][DP+4]  (dout)
    float* sP = sO + kBq * (DP + 4);                        // [kBq][kSStride]
    float* sS = sP + kBq * kSStride;                        // [kBq][kSStride]  (dS)
    float* sLse = sS + kBq * kSStride;                      // [kBq], log2 units
    float* sDsum = sLse + kBq;                              // [kBq]
    auto* sSegK = reinterpret_cast<int32_t*>(sDsum + kBq);  // [kBkv]
    int32_t* sSegQ = sSegK + kBkv;                          // [kBq]

    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int64_t j0 = blockIdx.x * static_cast<int64_t>(kBkv);
    const int64_t b = blockIdx.z / p.Hq, h = blockIdx.z % p.Hq;
    const int64_t g = h / (p.Hq / p.Hkv);
    const int64_t n_qt = (p.T + kBq - 1) / kBq;
    const int64_t first_visible = j0 - p.q_pos0 > 0 ? j0 - p.q_pos0 : 0;  // earliest query row
    const int64_t qt_causal = first_visible / kBq;
    const int64_t qt_begin = blockIdx.y * static_cast<int64_t>(kChunk) > qt_causal
                                 ? blockIdx.y * static_cast<int64_t>(kChunk)
                                 : qt_causal;
    const int64_t qt_chunk_end = (blockIdx.y + 1) * static_cast<int64_t>(kChunk);
    const int64_t qt_end = qt_chunk_end < n_qt ? qt_chunk_end : n_qt;
    if (qt_begin >= qt_end) {
        return;  // uniform: no query of this chunk sees these keys
    }

    const int64_t q_head = b * p.q_batch_stride + h * p.D;
    const int64_t kv_head = b * p.kv_batch_stride + g * p.D;
    const int32_t* seg = p.segment_ids != nullptr ? p.segment_ids + b * p.T : nullptr;
    attn_load_tile<kBkv, DP, DP>(sK, p.k + kv_head, p.kv_row_stride, j0, p.Tk, p.D, 1.0f);
    attn_load_tile<kBkv, DP, DP>(sV, p.v + kv_head, p.kv_row_stride, j0, p.Tk, p.D, 1.0f);
    if (seg != nullptr && threadIdx.x < kBkv) {
        const int64_t key = j0 + threadIdx.x;
        sSegK[threadIdx.x] = key < p.T ? seg[key] : -1;
    }

    float dk_acc[kKeysPerWarp][kDl], dv_acc[kKeysPerWarp][kDl];
#pragma unroll
    for (int jj = 0; jj < kKeysPerWarp; jj++) {
#pragma unroll
        for (int i = 0; i < kDl; i++) {
            dk_acc[jj][i] = 0.0f;
            dv_acc[jj][i] = 0.0f;
        }
    }

    for (int64_t qt = qt_begin; qt < qt_end; qt++) {
        const int64_t t0 = qt * kBq;
        __syncthreads();  // the previous query tile is consumed
        attn_load_tile<kBq, DP, DP + 4>(sQ, p.q + q_head, p.q_row_stride, t0, p.T, p.D, 1.0f);
        attn_load_tile<kBq, DP, DP + 4>(sO, dout + q_head, p.q_row_stride, t0, p.T, p.D, 1.0f);
        if (threadIdx.x < kBq) {
            const int64_t t = t0 + threadIdx.x;
            const bool valid = t < p.T;
            const int64_t stat = (b * p.Hq + h) * p.T + t;
            sLse[threadIdx.x] = valid ? p.lse[stat] * kLog2e : 0.0f;
            sDsum[threadIdx.x] = valid ? dsum[stat] : 0.0f;
            sSegQ[threadIdx.x] = (seg != nullptr && valid) ? seg[t] : 0;
        }
        __syncthreads();

        // S and dP for query row `lane` and this warp's keys; then P and dS into shared memory.
        {
            float s[kKeysPerWarp], dp[kKeysPerWarp];
#pragma unroll
            for (int jj = 0; jj < kKeysPerWarp; jj++) {
                s[jj] = 0.0f;
                dp[jj] = 0.0f;
            }
#pragma unroll 2
            for (int d = 0; d < DP; d += 4) {
                const float4 q4 = *reinterpret_cast<const float4*>(&sQ[lane * (DP + 4) + d]);
                const float4 o4 = *reinterpret_cast<const float4*>(&sO[lane * (DP + 4) + d]);
#pragma unroll
                for (int jj = 0; jj < kKeysPerWarp; jj++) {
                    const int j = warp * kKeysPerWarp + jj;
                    s[jj] += dot4(q4, *reinterpret_cast<const float4*>(&sK[j * DP + d]));
                    dp[jj] += dot4(o4, *reinterpret_cast<const float4*>(&sV[j * DP + d]));
                }
            }
            const int64_t t = t0 + lane;
            const float lse2 = sLse[lane], ds_row = sDsum[lane];
#pragma unroll
            for (int jj = 0; jj < kKeysPerWarp; jj++) {
                const int j = warp * kKeysPerWarp + jj;
                const bool vis = attn_visible(p, t, j0 + j, sSegQ[lane], sSegK[j]);
                const float prob = vis ? exp2f(s[jj] * scale_log2 - lse2) : 0.0f;
                sP[lane * kSStride + j] = prob;
                sS[lane * kSStride + j] = prob * (dp[jj] - ds_row);
            }
        }
        __syncthreads();

        const int64_t rows_left = p.T - t0;
        const int nrows = rows_left < kBq ? static_cast<int>(rows_left) : kBq;
        // dV += P^T dO and dK += dS^T Q for this warp's keys.
        for (int i = 0; i < nrows; i++) {
            const int c = i * kSStride + warp * kKeysPerWarp;
            const float4 pa = *reinterpret_cast<const float4*>(&sP[c]);
            const float4 pb = *reinterpret_cast<const float4*>(&sP[c + 4]);
            const float4 sa = *reinterpret_cast<const float4*>(&sS[c]);
            const float4 sb = *reinterpret_cast<const float4*>(&sS[c + 4]);
#pragma unroll
            for (int k = 0; k < kDl; k++) {
                const float o = sO[i * (DP + 4) + lane + 32 * k];
                const float qv = sQ[i * (DP + 4) + lane + 32 * k];
#pragma unroll
                for (int jj = 0; jj < 4; jj++) {
                    dv_acc[jj][k] += f4_get(pa, jj) * o;
                    dv_acc[jj + 4][k] += f4_get(pb, jj) * o;
                    dk_acc[jj][k] += f4_get(sa, jj) * qv;
                    dk_acc[jj + 4][k] += f4_get(sb, jj) * qv;
                }
            }
        }

        // dQ += dS K for this warp's query rows.
        if (dq != nullptr) {
            float dq_acc[kRowsPerWarp][kDl];
#pragma unroll
            for (int r = 0; r < kRowsPerWarp; r++) {
#pragma unroll
                for (int k = 0; k < kDl; k++) {
                    dq_acc[r][k] = 0.0f;
                }
            }
            for (int j4 = 0; j4 < kBkv; j4 += 4) {
                float4 s4[kRowsPerWarp];
#pragma unroll
                for (int r = 0; r < kRowsPerWarp; r++) {
                    s4[r] = *reinterpret_cast<const float4*>(
                        &sS[(warp * kRowsPerWarp + r) * kSStride + j4]);
                }
#pragma unroll
                for (int jj = 0; jj < 4; jj++) {
#pragma unroll
                    for (int k = 0; k < kDl; k++) {
                        const float kv = sK[(j4 + jj) * DP + lane + 32 * k];
#pragma unroll
                        for (int r = 0; r < kRowsPerWarp; r++) {
                            dq_acc[r][k] += f4_get(s4[r], jj) * kv;
                        }
                    }
                }
            }
#pragma unroll
            for (int r = 0; r < kRowsPerWarp; r++) {
                const int64_t t = t0 + warp * kRowsPerWarp + r;
                if (t >= p.T) {
                    continue;
                }
                float* row = dq + q_head + t * p.q_row_stride;
#pragma unroll
                for (int k = 0; k < kDl; k++) {
                    const int d = lane + 32 * k;
                    if (d < p.D) {
                        atomicAdd(row + d, dq_acc[r][k] * scale);
                    }
                }
            }
        }
    }

#pragma unroll
    for (int jj = 0; jj < kKeysPerWarp; jj++) {
        const int64_t key = j0 + warp * kKeysPerWarp + jj;
        if (key >= p.Tk) {
            continue;
        }
        const int64_t row = kv_head + key * p.kv_row_stride;
#pragma unroll
        for (int k = 0; k < kDl; k++) {
            const int d = lane + 32 * k;
            if (d >= p.D) {
                continue;
            }
            if (dk != nullptr) {
                atomicAdd(dk + row + d, dk_acc[jj][k] * scale);
            }
            if (dv != nullptr) {
                atomicAdd(dv + row + d, dv_acc[jj][k]);
            }
        }
    }
}

}  // namespace

void attention_backward(void* stream, const AttnParams& p, float* dq, float* dk, float* dv,
                        const float* dout, bool tensor_cores) {
    if (p.B == 0 || p.T == 0 || (dq == nullptr && dk == nullptr && dv == nullptr)) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    const int64_t rows = p.B * p.Hq * p.T;
    auto* dsum = static_cast<float*>(
        stream_scratch(stream, ScratchSlot::kAttentionRows, static_cast<size_t>(rows) * 4));
    const bool tc = tensor_cores && attention_tc_fits(p.D);
    attention_dsum(s, p, dout, dsum, tc);
    if (tc) {
        return attention_tc_backward(s, p, dsum, dq, dk, dv, dout);
    }

    const int64_t n_qt = (p.T + kBq - 1) / kBq;
    const dim3 grid(static_cast<unsigned>((p.Tk + kBkv - 1) / kBkv),
                    static_cast<unsigned>((n_qt + kChunk - 1) / kChunk),
                    static_cast<unsigned>(p.B * p.Hq));
    const float scale = 1.0f / sqrtf(static_cast<float>(p.D));
    const float scale_log2 = attn_scale_log2(p.D);
    attn_head_dim_switch(p.D, [&]<int DP>() {
        constexpr size_t smem = sizeof(float) * bwd_smem_floats<DP>();
        QF_CUDA_CHECK(cudaFuncSetAttribute(attn_bwd_kernel<DP>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(smem)));
        attn_bwd_kernel<DP>
            <<<grid, kWarps * 32, smem, s>>>(p, scale, scale_log2, dout, dsum, dq, dk, dv);
        QF_CUDA_LAUNCH_CHECK();
    });
}

}  // namespace qforge::kernels::cuda
