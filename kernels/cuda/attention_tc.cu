// What is here: the tensor-core flash attention for head_dim 64 and 128 (TF32 wmma m16n16k8,
// fp32 accumulation), used when set_cuda_attention_impl(kTensorCores) (kernels/attention.h).
// Operands are rounded to TF32 when they are staged in shared memory; softmax statistics stay fp32.
// Fragments only ever meet shared memory (no assumption about their register layout), so row-wise
// work (masks, max, exp2) is done by plain threads on the staged scores.
//
// Forward, block = 4 warps x 16 query rows, key tiles of 32; two passes over the keys so that
// the output accumulators never need rescaling: pass 1 finds each row's max and sum (lse; two
// lanes per row, 16 scores each), pass 2 adds exp2(s - lse) V into fragments. With `dout` given it
// computes dsum = dot(dout, out) instead of out (the backward's preprocessing), and skips pass 1
// (lse is known). Backward, block = 4 warps, 32 keys x query tiles of 32 (same chunking as
// attention_bwd.cu): warp w computes the S and dP fragment (rows 16(w/2), keys 16(w%2)); threads
// turn them into P and dS; then warp w accumulates dV, dK for keys 16(w/2) and dims half w%2 in
// fragments, and dQ for query rows 16(w/2), dims half w%2, which is added to global memory with
// atomics.
#include <mma.h>

#include <cuda_runtime.h>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

namespace wmma = nvcuda::wmma;

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using FragAt = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using FragBt = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;

constexpr int kWarps = 4;
constexpr int kFwdBq = 64;  // 16 rows per warp
constexpr int kBk = 32;     // key tile (forward and backward)
constexpr int kBq = 32;     // backward query tile
constexpr int kChunk = 8;   // backward: query tiles per block at most
constexpr int kSld = kBk + 4;

// Rows padded by 4 floats: 8 consecutive rows start in 8 different 4-bank groups (fragment loads
// read 8 rows x 4 columns without conflicts), and every fragment pointer (rows multiple of 8,
// columns multiple of 8) stays 32-byte aligned.
template <int DH>
constexpr int ld_of() {
    return DH + 4;
}

// attn_load_tile with TF32 rounding (what the tensor cores would do to the value anyway).
template <int ROWS, int DH>
__device__ inline void load_tile_tf32(float* dst, const float* base, int64_t row_stride, int64_t r0,
                                      int64_t nrows, float mul) {
    constexpr int LD = ld_of<DH>();
    for (int idx = static_cast<int>(threadIdx.x); idx < ROWS * DH;
         idx += static_cast<int>(blockDim.x)) {
        const int r = idx / DH, d = idx % DH;
        const int64_t row = r0 + r;
        const float x = row < nrows ? base[row * row_stride + d] * mul : 0.0f;
        dst[r * LD + d] = wmma::__float_to_tf32(x);
    }
}

template <int DH>
constexpr int fwd_smem_floats() {
    return kFwdBq * ld_of<DH>() + 2 * kBk * ld_of<DH>() + kFwdBq * kSld + kBk;
}

// S (16 rows of the warp x 32 keys) = Q K^T into sS rows of the warp.
template <int DH>
__device__ inline void scores_16x32(const float* sQw, const float* sK, float* sSw) {
    constexpr int LD = ld_of<DH>();
    FragC acc[2];
    wmma::fill_fragment(acc[0], 0.0f);
    wmma::fill_fragment(acc[1], 0.0f);
#pragma unroll
    for (int k = 0; k < DH; k += 8) {
        FragA a;
        wmma::load_matrix_sync(a, sQw + k, LD);
#pragma unroll
        for (int j = 0; j < 2; j++) {
            FragBt bt;  // K^T: sK is [key][d], i.e. K^T column-major
            wmma::load_matrix_sync(bt, sK + j * 16 * LD + k, LD);
            wmma::mma_sync(acc[j], a, bt, acc[j]);
        }
    }
    wmma::store_matrix_sync(sSw, acc[0], kSld, wmma::mem_row_major);
    wmma::store_matrix_sync(sSw + 16, acc[1], kSld, wmma::mem_row_major);
}

template <int DH, bool kDsum>
__global__ void __launch_bounds__(kWarps * 32)
    attn_fwd_tc_kernel(AttnParams p, float scale_log2, const float* dout, float* dsum) {
    constexpr int LD = ld_of<DH>();
    extern __shared__ __align__(128) float4 smem4[];
    float* sQ = reinterpret_cast<float*>(smem4);  // [64][LD], pre-scaled by scale_log2
    float* sK = sQ + kFwdBq * LD;                 // [32][LD]
    float* sV = sK + kBk * LD;                    // [32][LD]
    float* sS = sV + kBk * LD;                    // [64][kSld]
    auto* sSeg = reinterpret_cast<int32_t*>(sS + kFwdBq * kSld);

    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int64_t t0 = (gridDim.x - 1 - blockIdx.x) * static_cast<int64_t>(kFwdBq);
    const int64_t h = blockIdx.y, b = blockIdx.z;
    const int64_t g = h / (p.Hq / p.Hkv);
    const float* kb = p.k + b * p.kv_batch_stride + g * DH;
    const float* vb = p.v + b * p.kv_batch_stride + g * DH;
    const int32_t* seg = p.segment_ids != nullptr ? p.segment_ids + b * p.T : nullptr;
    load_tile_tf32<kFwdBq, DH>(sQ, p.q + b * p.q_batch_stride + h * DH, p.q_row_stride, t0, p.T,
                               scale_log2);
    float* sQw = sQ + warp * 16 * LD;
    float* sSw = sS + warp * 16 * kSld;

    // Row statistics: lanes 2r and 2r+1 own row 16*warp + r, columns 16*(lane%2) .. +15 of
    // each score tile; m_row/l_row are the same in both lanes.
    const int my_row = lane / 2, my_half = lane % 2;
    const int64_t my_t = t0 + warp * 16 + my_row;
    const int32_t my_seg = (seg != nullptr && my_t < p.T) ? seg[my_t] : 0;
    float m_row = kDsum && my_t < p.T ? p.lse[(b * p.Hq + h) * p.T + my_t] * kLog2e : -INFINITY;
    float l_row = 0.0f;
    float* srow = sSw + my_row * kSld + my_half * 16;
    const int64_t t_last = (t0 + kFwdBq < p.T ? t0 + kFwdBq : p.T) - 1;
    const int64_t kend = p.q_pos0 + t_last + 1;

    auto load_keys = [&](int64_t k0, bool with_v) {
        __syncthreads();
        load_tile_tf32<kBk, DH>(sK, kb, p.kv_row_stride, k0, kend, 1.0f);
        if (with_v) {
            load_tile_tf32<kBk, DH>(sV, vb, p.kv_row_stride, k0, kend, 1.0f);
        }
        if (seg != nullptr && threadIdx.x < kBk) {
            const int64_t key = k0 + threadIdx.x;
            sSeg[threadIdx.x] = key < p.T ? seg[key] : -1;
        }
        __syncthreads();
    };

    if constexpr (!kDsum) {  // pass 1: row max and sum
        for (int64_t k0 = 0; k0 < kend; k0 += kBk) {
            load_keys(k0, false);
            scores_16x32<DH>(sQw, sK, sSw);
            __syncwarp();
            float vals[16];
            float tile_max = -INFINITY;
#pragma unroll
            for (int c = 0; c < 16; c++) {
                const int j = my_half * 16 + c;
                const int32_t seg_key = seg != nullptr ? sSeg[j] : 0;
                vals[c] = attn_visible(p, my_t, k0 + j, my_seg, seg_key) ? srow[c] : -INFINITY;
                tile_max = fmaxf(tile_max, vals[c]);
            }
            tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
            const float m_new = fmaxf(m_row, tile_max);
            const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // all masked so far
            float sum = 0.0f;
#pragma unroll
            for (int c = 0; c < 16; c++) {
                sum += exp2f(vals[c] - m_use);
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            l_row = l_row * exp2f(m_row - m_use) + sum;
            m_row = m_new;
        }
        m_row = m_row + log2f(l_row);  // lse in log2 units (rows >= T: unused)
    }

    // pass 2: out = sum exp2(s - lse) V
    FragC acc[DH / 16];
#pragma unroll
    for (int n = 0; n < DH / 16; n++) {
        wmma::fill_fragment(acc[n], 0.0f);
    }
    for (int64_t k0 = 0; k0 < kend; k0 += kBk) {
        load_keys(k0, true);
        scores_16x32<DH>(sQw, sK, sSw);
        __syncwarp();
#pragma unroll
        for (int c = 0; c < 16; c++) {
            const int j = my_half * 16 + c;
            const int32_t seg_key = seg != nullptr ? sSeg[j] : 0;
            const bool vis = attn_visible(p, my_t, k0 + j, my_seg, seg_key);
            srow[c] = wmma::__float_to_tf32(vis ? exp2f(srow[c] - m_row) : 0.0f);
        }
        __syncwarp();
#pragma unroll
        for (int k = 0; k < kBk; k += 8) {
            FragA a;
            wmma::load_matrix_sync(a, sSw + k, kSld);
#pragma unroll
            for (int n = 0; n < DH / 16; n++) {
                FragB bv;
                wmma::load_matrix_sync(bv, sV + k * LD + n * 16, LD);
                wmma::mma_sync(acc[n], a, bv, acc[n]);
            }
        }
    }

    // The warp's own 16 rows of sQ are free now: stage out there, then write rows < T.
#pragma unroll
    for (int n = 0; n < DH / 16; n++) {
        wmma::store_matrix_sync(sQw + n * 16, acc[n], LD, wmma::mem_row_major);
    }
    __syncwarp();
#pragma unroll
    for (int r = 0; r < 16; r++) {
        const int64_t t = t0 + warp * 16 + r;
        if (t >= p.T) {
            continue;
        }
        const int64_t row = b * p.q_batch_stride + t * p.q_row_stride + h * DH;
        if constexpr (kDsum) {
            float dot = 0.0f;
            for (int d = lane; d < DH; d += 32) {
                dot += sQw[r * LD + d] * dout[row + d];
            }
            dot = warp_sum(dot);
            if (lane == 0) {
                dsum[(b * p.Hq + h) * p.T + t] = dot;
            }
        } else {
            for (int d = lane; d < DH; d += 32) {
                p.out[row + d] = sQw[r * LD + d];
            }
            const float lse2 = __shfl_sync(0xffffffffu, m_row, 2 * r);
            if (p.lse != nullptr && lane == 0) {
                p.lse[(b * p.Hq + h) * p.T + t] = lse2 * kLn2;
            }
        }
    }
}

template <int DH>
constexpr int bwd_smem_floats() {
    return 5 * kBq * ld_of<DH>() + 2 * kBq * kSld + 2 * kBq + 2 * kBk;
}

template <int DH>
__global__ void __launch_bounds__(kWarps * 32)
    attn_bwd_tc_kernel(AttnParams p, float scale, float scale_log2, const float* dout,
                       const float* dsum, float* dq, float* dk, float* dv) {
    constexpr int LD = ld_of<DH>();
    constexpr int kHalf = DH / 2;    // dims per warp in dV, dK, dQ
    constexpr int kFr = kHalf / 16;  // fragments per warp for each of them
    extern __shared__ __align__(128) float4 smem4[];
    float* sK = reinterpret_cast<float*>(smem4);  // [32][LD]
    float* sV = sK + kBk * LD;                    // [32][LD]
    float* sQ = sV + kBk * LD;                    // [32][LD]
    float* sO = sQ + kBq * LD;                    // [32][LD] dout
    float* sX = sO + kBq * LD;                    // [32][LD] dQ staging, then dK/dV staging
    float* sP = sX + kBq * LD;                    // [32 q][kSld]
    float* sS = sP + kBq * kSld;                  // [32 q][kSld] dP, then dS
    float* sLse = sS + kBq * kSld;                // [32]
    float* sDsum = sLse + kBq;                    // [32]
    auto* sSegK = reinterpret_cast<int32_t*>(sDsum + kBq);
    int32_t* sSegQ = sSegK + kBk;

    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int wr = warp / 2, wc = warp % 2;
    const int64_t j0 = blockIdx.x * static_cast<int64_t>(kBk);
    const int64_t b = blockIdx.z / p.Hq, h = blockIdx.z % p.Hq;
    const int64_t g = h / (p.Hq / p.Hkv);
    const int64_t n_qt = (p.T + kBq - 1) / kBq;
    const int64_t first_visible = j0 - p.q_pos0 > 0 ? j0 - p.q_pos0 : 0;
    const int64_t qt_causal = first_visible / kBq;
    const int64_t qt_begin = blockIdx.y * static_cast<int64_t>(kChunk) > qt_causal
                                 ? blockIdx.y * static_cast<int64_t>(kChunk)
                                 : qt_causal;
    const int64_t qt_chunk_end = (blockIdx.y + 1) * static_cast<int64_t>(kChunk);
    const int64_t qt_end = qt_chunk_end < n_qt ? qt_chunk_end : n_qt;
    if (qt_begin >= qt_end) {
        return;
    }
    const int64_t q_head = b * p.q_batch_stride + h * DH;
    const int64_t kv_head = b * p.kv_batch_stride + g * DH;
    const int32_t* seg = p.segment_ids != nullptr ? p.segment_ids + b * p.T : nullptr;
    load_tile_tf32<kBk, DH>(sK, p.k + kv_head, p.kv_row_stride, j0, p.Tk, 1.0f);
    load_tile_tf32<kBk, DH>(sV, p.v + kv_head, p.kv_row_stride, j0, p.Tk, 1.0f);
    if (threadIdx.x < kBk) {
        const int64_t key = j0 + threadIdx.x;
        sSegK[threadIdx.x] = (seg != nullptr && key < p.T) ? seg[key] : -1;
    }

    FragC dk_acc[kFr], dv_acc[kFr];
#pragma unroll
    for (int n = 0; n < kFr; n++) {
        wmma::fill_fragment(dk_acc[n], 0.0f);
        wmma::fill_fragment(dv_acc[n], 0.0f);
    }

    for (int64_t qt = qt_begin; qt < qt_end; qt++) {
        const int64_t t0 = qt * kBq;
        __syncthreads();
        load_tile_tf32<kBq, DH>(sQ, p.q + q_head, p.q_row_stride, t0, p.T, 1.0f);
        load_tile_tf32<kBq, DH>(sO, dout + q_head, p.q_row_stride, t0, p.T, 1.0f);
        if (threadIdx.x < kBq) {
            const int64_t t = t0 + threadIdx.x;
            const bool valid = t < p.T;
            const int64_t stat = (b * p.Hq + h) * p.T + t;
            sLse[threadIdx.x] = valid ? p.lse[stat] * kLog2e : 0.0f;
            sDsum[threadIdx.x] = valid ? dsum[stat] : 0.0f;
            sSegQ[threadIdx.x] = (seg != nullptr && valid) ? seg[t] : 0;
        }
        __syncthreads();

        {  // S = Q K^T and dP = dO V^T, fragment (rows 16 wr, keys 16 wc)
            FragC s_acc, dp_acc;
            wmma::fill_fragment(s_acc, 0.0f);
            wmma::fill_fragment(dp_acc, 0.0f);
#pragma unroll 2
            for (int k = 0; k < DH; k += 8) {
                FragA a;
                FragBt bt;
                wmma::load_matrix_sync(a, sQ + wr * 16 * LD + k, LD);
                wmma::load_matrix_sync(bt, sK + wc * 16 * LD + k, LD);
                wmma::mma_sync(s_acc, a, bt, s_acc);
                wmma::load_matrix_sync(a, sO + wr * 16 * LD + k, LD);
                wmma::load_matrix_sync(bt, sV + wc * 16 * LD + k, LD);
                wmma::mma_sync(dp_acc, a, bt, dp_acc);
            }
            wmma::store_matrix_sync(sP + wr * 16 * kSld + wc * 16, s_acc, kSld,
                                    wmma::mem_row_major);
            wmma::store_matrix_sync(sS + wr * 16 * kSld + wc * 16, dp_acc, kSld,
                                    wmma::mem_row_major);
        }
        __syncthreads();
        // P = exp2(S scale_log2 - lse), dS = P (dP - dsum); 8 elements per thread.
        for (int idx = static_cast<int>(threadIdx.x); idx < kBq * kBk; idx += kWarps * 32) {
            const int i = idx / kBk, j = idx % kBk;
            const bool vis = attn_visible(p, t0 + i, j0 + j, sSegQ[i], sSegK[j]);
            const float prob = vis ? exp2f(sP[i * kSld + j] * scale_log2 - sLse[i]) : 0.0f;
            const float ds = prob * (sS[i * kSld + j] - sDsum[i]);
            sP[i * kSld + j] = wmma::__float_to_tf32(prob);
            sS[i * kSld + j] = wmma::__float_to_tf32(ds);
        }
        __syncthreads();

        // dV += P^T dO and dK += dS^T Q: keys 16 wr, dims kHalf wc.
#pragma unroll 1
        for (int k = 0; k < kBq; k += 8) {
            FragAt pt, st;
            wmma::load_matrix_sync(pt, sP + k * kSld + wr * 16, kSld);
            wmma::load_matrix_sync(st, sS + k * kSld + wr * 16, kSld);
#pragma unroll
            for (int n = 0; n < kFr; n++) {
                FragB bo, bq;
                wmma::load_matrix_sync(bo, sO + k * LD + wc * kHalf + n * 16, LD);
                wmma::mma_sync(dv_acc[n], pt, bo, dv_acc[n]);
                wmma::load_matrix_sync(bq, sQ + k * LD + wc * kHalf + n * 16, LD);
                wmma::mma_sync(dk_acc[n], st, bq, dk_acc[n]);
            }
        }

        if (dq != nullptr) {  // dQ = dS K: query rows 16 wr, dims kHalf wc
            FragC dq_acc[kFr];
#pragma unroll
            for (int n = 0; n < kFr; n++) {
                wmma::fill_fragment(dq_acc[n], 0.0f);
            }
#pragma unroll 1
            for (int k = 0; k < kBk; k += 8) {
                FragA a;
                wmma::load_matrix_sync(a, sS + wr * 16 * kSld + k, kSld);
#pragma unroll
                for (int n = 0; n < kFr; n++) {
                    FragB bk;
                    wmma::load_matrix_sync(bk, sK + k * LD + wc * kHalf + n * 16, LD);
                    wmma::mma_sync(dq_acc[n], a, bk, dq_acc[n]);
                }
            }
#pragma unroll
            for (int n = 0; n < kFr; n++) {
                wmma::store_matrix_sync(sX + wr * 16 * LD + wc * kHalf + n * 16, dq_acc[n], LD,
                                        wmma::mem_row_major);
            }
            __syncthreads();
            for (int idx = static_cast<int>(threadIdx.x); idx < kBq * DH; idx += kWarps * 32) {
                const int i = idx / DH, d = idx % DH;
                if (t0 + i < p.T) {
                    atomicAdd(dq + q_head + (t0 + i) * p.q_row_stride + d, sX[i * LD + d] * scale);
                }
            }
        }
    }

    // dK, then dV, through sX into global memory (atomics: other query heads and chunks add too).
    auto flush = [&](FragC(&acc)[kFr], float* dst, float mul) {
        __syncthreads();
#pragma unroll
        for (int n = 0; n < kFr; n++) {
            wmma::store_matrix_sync(sX + wr * 16 * LD + wc * kHalf + n * 16, acc[n], LD,
                                    wmma::mem_row_major);
        }
        __syncthreads();
        if (dst == nullptr) {
            return;
        }
        for (int idx = static_cast<int>(threadIdx.x); idx < kBk * DH; idx += kWarps * 32) {
            const int j = idx / DH, d = idx % DH;
            if (j0 + j < p.Tk) {
                atomicAdd(dst + kv_head + (j0 + j) * p.kv_row_stride + d, sX[j * LD + d] * mul);
            }
        }
    };
    flush(dk_acc, dk, scale);
    flush(dv_acc, dv, 1.0f);
}

template <int DH, bool kDsum>
void launch_fwd_tc(cudaStream_t stream, const AttnParams& p, const float* dout, float* dsum) {
    const dim3 grid(static_cast<unsigned>((p.T + kFwdBq - 1) / kFwdBq), static_cast<unsigned>(p.Hq),
                    static_cast<unsigned>(p.B));
    constexpr size_t smem = sizeof(float) * fwd_smem_floats<DH>();
    QF_CUDA_CHECK(cudaFuncSetAttribute(attn_fwd_tc_kernel<DH, kDsum>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
    attn_fwd_tc_kernel<DH, kDsum>
        <<<grid, kWarps * 32, smem, stream>>>(p, attn_scale_log2(p.D), dout, dsum);
    QF_CUDA_LAUNCH_CHECK();
}

template <int DH>
void launch_bwd_tc(cudaStream_t stream, const AttnParams& p, const float* dsum, float* dq,
                   float* dk, float* dv, const float* dout) {
    const int64_t n_qt = (p.T + kBq - 1) / kBq;
    const dim3 grid(static_cast<unsigned>((p.Tk + kBk - 1) / kBk),
                    static_cast<unsigned>((n_qt + kChunk - 1) / kChunk),
                    static_cast<unsigned>(p.B * p.Hq));
    constexpr size_t smem = sizeof(float) * bwd_smem_floats<DH>();
    QF_CUDA_CHECK(cudaFuncSetAttribute(attn_bwd_tc_kernel<DH>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
    attn_bwd_tc_kernel<DH><<<grid, kWarps * 32, smem, stream>>>(
        p, 1.0f / sqrtf(static_cast<float>(p.D)), attn_scale_log2(p.D), dout, dsum, dq, dk, dv);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace

void attention_tc_forward(cudaStream_t stream, const AttnParams& p, const float* dout,
                          float* dsum) {
    const bool dsum_mode = dout != nullptr;
    if (p.D == 64) {
        dsum_mode ? launch_fwd_tc<64, true>(stream, p, dout, dsum)
                  : launch_fwd_tc<64, false>(stream, p, nullptr, nullptr);
    } else {
        dsum_mode ? launch_fwd_tc<128, true>(stream, p, dout, dsum)
                  : launch_fwd_tc<128, false>(stream, p, nullptr, nullptr);
    }
}

void attention_tc_backward(cudaStream_t stream, const AttnParams& p, const float* dsum, float* dq,
                           float* dk, float* dv, const float* dout) {
    if (p.D == 64) {
        launch_bwd_tc<64>(stream, p, dsum, dq, dk, dv, dout);
    } else {
        launch_bwd_tc<128>(stream, p, dsum, dq, dk, dv, dout);
    }
}

}  // namespace qforge::kernels::cuda
