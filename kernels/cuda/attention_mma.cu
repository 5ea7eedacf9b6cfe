// What is here: the bf16 tensor-core flash attention (FlashAttention-2 on mma.sync m16n8k16,
// fp32 accumulation) for head_dim 64 and 128, used when cuda_attention_impl() is kBf16 (the
// default; kernels/attention.h) or kBf16MmaSync; under kBf16 on Hopper the bf16 API's forward
// (and its backward at head_dim 128) runs on wgmma instead (attention_wgmma*.cu). The kernels read
// bf16 operands token-major, (b, row, head, d) with a batch and a row stride (MmaArgs), so that
// 16-byte chunks of a head row stream into shared memory with cp.async. The bf16 API
// (AttnBf16Params) hands its tensors over as they are and gets out in bf16; the fp32 API first
// copies k, v (and for the backward q, dout) into bf16 token-major scratch (attn_to_bf16), the
// forward reads q straight from fp32 and writes out in fp32. Softmax statistics, lse, dsum and the
// gradients stay fp32.
//
// Forward: one block per (64 query rows, head, batch), 4 warps x 16 rows x full D; Q fragments
// stay in registers, 64-key K/V tiles are double-buffered (cp.async) with one barrier per tile,
// online softmax in registers (the S accumulator fragments turn into the P operand without
// touching shared memory); only tiles on the diagonal run the causal mask.
// With dout given it writes dsum = dot(dout, out) instead of out (the backward's preprocessing
// when the caller has no out).
// Backward: one block per (key block, query head, batch), 128 keys and 8 warps at D = 128, 64
// keys and 4 warps at D = 64; warp w owns keys 16w..16w+15 and keeps their dK, dV in registers
// over the query tiles of 64: S^T = K Q^T and dP^T = V dO^T, P^T, dS^T in registers,
// dV += P^T dO, dK += dS^T Q (query tiles double-buffered, two barriers per tile; a warp whose
// keys all follow the tile's queries skips it); dS^T goes through shared memory for dQ = dS K (warp
// w: query rows 16 (w % 4).., a 1/(warps/4) slice of D), added to dq with atomics; dK, dV are added
// with atomics at the end (the query heads of a GQA group share them).
// With segment ids (packed rows), both kernels skip the tile pairs whose id ranges do not meet
// (seg_tile_ranges), and drop the segment test in pairs that are one segment on both sides.
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_fragments.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/attention_mma_args.cuh"
#include "kernels/cuda/attention_wgmma.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/mma_ptx.cuh"
#include "kernels/cuda/scratch.h"

namespace qforge::kernels::cuda {

namespace {

constexpr int kBr = 64;  // query rows per tile
constexpr int kBc = 64;  // keys per tile (the backward's key block: kBwdKeys)

constexpr int kThreads = 128;  // forward: 4 warps x 16 query rows

// Backward keys per block (16 per warp): on the H100 (Llama-3 shapes) 128-key blocks (8 warps, one
// block per SM) are 10% faster than 64 at D = 128 (half the Q / dO tile loads and dq atomics per
// key) and even at D = 64.
template <int DH>
constexpr int kBwdKeys = DH == 128 ? 128 : 64;

// Shared-memory rows of DH bf16 padded by 8 (16 bytes): 8 consecutive rows start in 8 different
// 16-byte bank groups, so ldmatrix reads them without conflicts.
template <int DH>
constexpr int kLds = DH + 8;
constexpr int kLdsS = kBc + 8;  // backward dS^T rows (64 queries)

// What the forward kernel reads and writes: fp32 q and out (the fp32 API), fp32 q and dsum =
// dot(dout, out) instead of out (the fp32 backward without out), or bf16 q and out (the bf16 API).
enum class FwdMode { kF32, kDsum, kBf16 };

// Rows [r0, r0 + ROWS) of a bf16 head (head: row 0, d 0; rows rs elements apart, nrows * rs <
// 2^31) into shared [ROWS][lds] by THREADS threads; rows >= nrows are zeros. A thread moves the
// same 16-byte chunk of rows kStep apart: one 32-bit product for its first row, then a stride.
template <int DH, int THREADS, int ROWS = 64>
__device__ inline void load_tile_async(__nv_bfloat16* dst, const __nv_bfloat16* head, int rs,
                                       int64_t r0, int64_t nrows) {
    constexpr int kChunks = DH / 8;  // 16-byte chunks per row
    constexpr int kStep = THREADS / kChunks;
    static_assert(THREADS % kChunks == 0 && ROWS % kStep == 0, "whole rows per pass");
    const int r = static_cast<int>(threadIdx.x) / kChunks,
              c = static_cast<int>(threadIdx.x) % kChunks;
    const int row0 = static_cast<int>(r0) + r, left = static_cast<int>(nrows) - row0;
    const __nv_bfloat16* src = head + row0 * rs + c * 8;
#pragma unroll
    for (int i = 0; i < ROWS / kStep; i++) {
        const bool valid = i * kStep < left;
        cp_async16(dst + (r + i * kStep) * kLds<DH> + c * 8, valid ? src + i * kStep * rs : head,
                   valid);
    }
}

// ---- fp32 (strided) -> bf16 token-major [b][row][head][D] --------------------------------------

// One thread per 8 consecutive elements of a head row; src (b, r, h, d) at b*bs + r*rs + h*D + d,
// dst dense (b, r, h, d).
template <bool kVec>
__global__ void attn_to_bf16_kernel(__nv_bfloat16* dst, const float* src, int64_t B, int64_t rows,
                                    int64_t H, int64_t D, int64_t bs, int64_t rs) {
    const int64_t n = B * H * rows * (D / 8);
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t c = i % (D / 8);
        const int64_t h = (i / (D / 8)) % H;
        const int64_t r = (i / (D / 8 * H)) % rows;
        const int64_t b = i / (D / 8 * H * rows);
        const float* s = src + b * bs + r * rs + h * D + c * 8;
        float x[8];
        if constexpr (kVec) {
            const float4 a = *reinterpret_cast<const float4*>(s);
            const float4 e = *reinterpret_cast<const float4*>(s + 4);
            x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w;
            x[4] = e.x, x[5] = e.y, x[6] = e.z, x[7] = e.w;
        } else {
#pragma unroll
            for (int k = 0; k < 8; k++) {
                x[k] = s[k];
            }
        }
        uint4 out;
        out.x = pack_bf16(x[0], x[1]);
        out.y = pack_bf16(x[2], x[3]);
        out.z = pack_bf16(x[4], x[5]);
        out.w = pack_bf16(x[6], x[7]);
        *reinterpret_cast<uint4*>(dst + i * 8) = out;
    }
}

void to_bf16(cudaStream_t stream, __nv_bfloat16* dst, const float* src, int64_t B, int64_t rows,
             int64_t H, int64_t D, int64_t bs, int64_t rs) {
    const int64_t n = B * H * rows * (D / 8);
    if (n == 0) {
        return;
    }
    const bool vec = reinterpret_cast<uintptr_t>(src) % 16 == 0 && bs % 4 == 0 && rs % 4 == 0;
    const int64_t blocks64 = (n + 255) / 256 < 8192 ? (n + 255) / 256 : 8192;
    const auto blocks = static_cast<unsigned>(blocks64);
    if (vec) {
        attn_to_bf16_kernel<true><<<blocks, 256, 0, stream>>>(dst, src, B, rows, H, D, bs, rs);
    } else {
        attn_to_bf16_kernel<false><<<blocks, 256, 0, stream>>>(dst, src, B, rows, H, D, bs, rs);
    }
    QF_CUDA_LAUNCH_CHECK();
}

// MmaArgs of the fp32 API: bf16 token-major copies of q (and dout) (B,T,Hq,D) and k, v
// (B,Tk,Hkv,D) in one scratch buffer; fp32 q, out and the gradients keep p's strides. The
// forward reads q straight from fp32 (with_q false: args.q is not filled).
MmaArgs make_f32_args(cudaStream_t stream, const AttnParams& p, const float* dout, bool with_q) {
    const int64_t nq = p.B * p.Hq * p.T * p.D, nkv = p.B * p.Hkv * p.Tk * p.D;
    const int64_t total = nq * (dout != nullptr ? 2 : 1) + 2 * nkv;
    auto* base = static_cast<__nv_bfloat16*>(
        stream_scratch(stream, ScratchSlot::kAttentionBf16, static_cast<size_t>(total) * 2));
    __nv_bfloat16 *q = base, *k = base + nq, *v = base + nq + nkv;
    __nv_bfloat16* dob = dout != nullptr ? base + nq + 2 * nkv : nullptr;
    if (with_q) {
        to_bf16(stream, q, p.q, p.B, p.T, p.Hq, p.D, p.q_batch_stride, p.q_row_stride);
    }
    to_bf16(stream, k, p.k, p.B, p.Tk, p.Hkv, p.D, p.kv_batch_stride, p.kv_row_stride);
    to_bf16(stream, v, p.v, p.B, p.Tk, p.Hkv, p.D, p.kv_batch_stride, p.kv_row_stride);
    if (dout != nullptr) {
        to_bf16(stream, dob, dout, p.B, p.T, p.Hq, p.D, p.q_batch_stride, p.q_row_stride);
    }
    MmaArgs a{};
    a.q = {q, p.T * p.Hq * p.D, static_cast<int>(p.Hq * p.D)};
    a.k = {k, p.Tk * p.Hkv * p.D, static_cast<int>(p.Hkv * p.D)};
    a.v = {v, p.Tk * p.Hkv * p.D, static_cast<int>(p.Hkv * p.D)};
    a.dout = {dob, p.T * p.Hq * p.D, static_cast<int>(p.Hq * p.D)};
    a.q32 = p.q;
    a.dout32 = dout;
    a.q32_bs = p.q_batch_stride;
    a.q32_rs = p.q_row_stride;
    a.out = p.out;
    a.out_bs = p.q_batch_stride;
    a.out_rs = p.q_row_stride;
    a.lse = p.lse;
    a.seg = p.segment_ids;
    a.B = p.B;
    a.T = p.T;
    a.Tk = p.Tk;
    a.Hq = p.Hq;
    a.Hkv = p.Hkv;
    a.q_pos0 = p.q_pos0;
    a.dq_bs = p.q_batch_stride;
    a.dq_rs = p.q_row_stride;
    a.dkv_bs = p.kv_batch_stride;
    a.dkv_rs = p.kv_row_stride;
    return a;
}

// MmaArgs of the bf16 API: its tensors as they are (batch stride T * row stride); dq, dk, dv
// contiguous (B,T,H,D).
MmaArgs make_bf16_args(const AttnBf16Params& p, const uint16_t* dout, int64_t dout_rs) {
    auto bf = [](const uint16_t* x) {
        return reinterpret_cast<const __nv_bfloat16*>(x);
    };
    MmaArgs a{};
    a.q = {bf(p.q), p.T * p.q_row_stride, static_cast<int>(p.q_row_stride)};
    a.k = {bf(p.k), p.T * p.kv_row_stride, static_cast<int>(p.kv_row_stride)};
    a.v = {bf(p.v), p.T * p.kv_row_stride, static_cast<int>(p.kv_row_stride)};
    a.dout = {bf(dout), p.T * dout_rs, static_cast<int>(dout_rs)};
    a.out = p.out;
    a.out_bs = p.T * p.out_row_stride;
    a.out_rs = p.out_row_stride;
    a.lse = p.lse;
    a.seg = p.segment_ids;
    a.B = p.B;
    a.T = p.T;
    a.Tk = p.T;
    a.Hq = p.Hq;
    a.Hkv = p.Hkv;
    a.q_pos0 = 0;
    a.dq_bs = p.T * p.Hq * p.D;
    a.dq_rs = p.Hq * p.D;
    a.dkv_bs = p.T * p.Hkv * p.D;
    a.dkv_rs = p.Hkv * p.D;
    return a;
}

// ---- segment-id ranges of 64-row tiles ---------------------------------------------------------

// One tile size for queries and keys: the forward indexes these ranges by key tile, the backward
// by query tile.
static_assert(kBr == kBc, "segment-id tile ranges serve query and key tiles alike");

// out[b][i]: the smallest and largest segment id of rows 64 i .. 64 i + 63 (< T) of batch row b.
// A key tile and a query tile whose ranges do not meet have every score between them masked, so
// the kernels skip the pair; packed rows of short examples then cost about the sum of their own
// causal triangles instead of a whole row's. Any ids work (ranges, not order, decide).
__global__ void seg_tile_ranges_kernel(int2* out, const int32_t* seg, int64_t B, int64_t T) {
    const int64_t tiles = (T + kBr - 1) / kBr;
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= B * tiles) {
        return;
    }
    const int64_t b = i / tiles, t0 = (i % tiles) * kBr;
    const int64_t t1 = t0 + kBr < T ? t0 + kBr : T;
    int lo = seg[b * T + t0], hi = lo;
    for (int64_t t = t0 + 1; t < t1; t++) {
        lo = min(lo, seg[b * T + t]);
        hi = max(hi, seg[b * T + t]);
    }
    out[i] = make_int2(lo, hi);
}

// The tile ranges of a's segment ids in stream scratch, or nullptr where no tile is skipped: no
// segments, or queries that are not the keys themselves (q_pos0 > 0, Tk != T).
const int2* seg_tile_ranges(cudaStream_t stream, const MmaArgs& a) {
    if (a.seg == nullptr || a.q_pos0 != 0 || a.Tk != a.T) {
        return nullptr;
    }
    const int64_t n = a.B * ((a.T + kBr - 1) / kBr);
    auto* out = static_cast<int2*>(stream_scratch(stream, ScratchSlot::kAttentionSegTiles,
                                                  static_cast<size_t>(n) * sizeof(int2)));
    seg_tile_ranges_kernel<<<static_cast<unsigned>((n + 127) / 128), 128, 0, stream>>>(out, a.seg,
                                                                                       a.B, a.T);
    QF_CUDA_LAUNCH_CHECK();
    return out;
}

// ---- forward ---------------------------------------------------------------------------------

template <int DH>
constexpr int fwd_smem_bytes() {
    return (kBr + 4 * kBc) * kLds<DH> * 2 + 2 * kBc * 4;
}

// vec (kF32 / kDsum): q32 (and out) allow 16-byte accesses.
template <int DH, FwdMode kMode>
__global__ void __launch_bounds__(kThreads, DH == 64 ? 3 : 2)
    attn_fwd_mma_kernel(MmaArgs a, float scale_log2, float* dsum, bool vec) {
    constexpr bool kDsum = kMode == FwdMode::kDsum;
    constexpr int LDS = kLds<DH>;
    constexpr int KD = DH / 16;  // k-steps over D
    constexpr int ND = DH / 8;   // n-tiles over D
    extern __shared__ __align__(128) unsigned char smem[];
    auto* sQ = reinterpret_cast<__nv_bfloat16*>(smem);            // [64][LDS]
    __nv_bfloat16* sK = sQ + kBr * LDS;                           // [2][64][LDS]
    __nv_bfloat16* sV = sK + 2 * kBc * LDS;                       // [2][64][LDS]
    auto* sSeg = reinterpret_cast<int32_t*>(sV + 2 * kBc * LDS);  // [2][64]

    const int tid = static_cast<int>(threadIdx.x);
    const int lane = tid % 32, warp = tid / 32;
    const int g = lane / 4, tq = lane % 4;
    const int64_t bh = blockIdx.x;
    const int64_t b = bh / a.Hq, h = bh % a.Hq;
    const int64_t kvh = h / (a.Hq / a.Hkv);
    const int64_t t0 = (gridDim.y - 1 - blockIdx.y) * static_cast<int64_t>(kBr);
    const int64_t t_last = (t0 + kBr < a.T ? t0 + kBr : a.T) - 1;
    const int64_t kend = a.q_pos0 + t_last + 1;  // keys seen by this block
    const int n_tiles = static_cast<int>((kend + kBc - 1) / kBc);
    const __nv_bfloat16* kh = a.k.ptr + b * a.k.bs + kvh * DH;
    const __nv_bfloat16* vh = a.v.ptr + b * a.v.bs + kvh * DH;
    const int32_t* seg = a.seg != nullptr ? a.seg + b * a.T : nullptr;
    // Key tiles whose segment ids cannot meet this block's are skipped (every score masked).
    const int2* rng = a.seg_tiles != nullptr ? a.seg_tiles + b * ((a.T + kBc - 1) / kBc) : nullptr;
    const int2 qr = rng != nullptr ? rng[t0 / kBc] : make_int2(0, 0);
    auto next_tile = [&](int j) {
        while (rng != nullptr && j < n_tiles && !ranges_meet(rng[j], qr)) {
            ++j;
        }
        return j;
    };

    auto load_kv = [&](int j, int buf) {
        load_tile_async<DH, kThreads>(sK + buf * kBc * LDS, kh, a.k.rs,
                                      static_cast<int64_t>(j) * kBc, kend);
        load_tile_async<DH, kThreads>(sV + buf * kBc * LDS, vh, a.v.rs,
                                      static_cast<int64_t>(j) * kBc, kend);
        if (seg != nullptr && tid < kBc) {
            const int64_t key = static_cast<int64_t>(j) * kBc + tid;
            sSeg[buf * kBc + tid] = key < a.T ? seg[key] : -1;
        }
    };
    if constexpr (kMode == FwdMode::kBf16) {  // Q tile in the same cp.async group as K/V tile 0
        load_tile_async<DH, kThreads>(sQ, a.q.ptr + b * a.q.bs + h * DH, a.q.rs, t0, a.T);
    }
    int jn = next_tile(0);  // the next tile to visit (the block's diagonal tile always is)
    if (jn < n_tiles) {
        load_kv(jn, 0);
    }
    cp_async_commit();
    if constexpr (kMode != FwdMode::kBf16) {
        // Q straight from fp32 (read once per block), rounded to bf16 on the way
        const float* qf32 = a.q32 + b * a.q32_bs + h * DH;
        constexpr int kChunks = DH / 8;
#pragma unroll 4
        for (int i = 0; i < kBr * kChunks / kThreads; i++) {
            const int idx = tid + i * kThreads;
            const int r = idx / kChunks, c8 = (idx % kChunks) * 8;
            const int64_t t = t0 + r;
            float x[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            if (t < a.T) {
                const float* src = qf32 + t * a.q32_rs + c8;
                if (vec) {
                    const float4 a = *reinterpret_cast<const float4*>(src);
                    const float4 e = *reinterpret_cast<const float4*>(src + 4);
                    x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w;
                    x[4] = e.x, x[5] = e.y, x[6] = e.z, x[7] = e.w;
                } else {
#pragma unroll
                    for (int k = 0; k < 8; k++) {
                        x[k] = src[k];
                    }
                }
            }
            uint4 u;
            u.x = pack_bf16(x[0], x[1]);
            u.y = pack_bf16(x[2], x[3]);
            u.z = pack_bf16(x[4], x[5]);
            u.w = pack_bf16(x[6], x[7]);
            *reinterpret_cast<uint4*>(sQ + r * LDS + c8) = u;
        }
    }

    // This thread's rows: t0 + 16 warp + g and + 8.
    const int64_t row0 = t0 + warp * 16 + g;
    const int64_t wpos0 = a.q_pos0 + t0 + warp * 16;  // the warp's first query position
    int32_t qseg[2] = {0, 0};
    if (seg != nullptr) {
        qseg[0] = row0 < a.T ? seg[row0] : -2;
        qseg[1] = row0 + 8 < a.T ? seg[row0 + 8] : -2;
    }

    // This lane's ldmatrix row addresses (bytes); k-step and n-tile offsets are immediates.
    const uint32_t q_addr = smem_addr(sQ + (warp * 16 + lane % 16) * LDS + (lane / 16) * 8);
    const uint32_t k_addr =
        smem_addr(sK + ((lane / 16) * 8 + lane % 8) * LDS + ((lane / 8) % 2) * 8);
    const uint32_t v_addr =
        smem_addr(sV + (((lane / 8) % 2) * 8 + lane % 8) * LDS + (lane / 16) * 8);
    constexpr uint32_t kBufBytes = kBc * LDS * 2;

    uint32_t qf[KD][4];
    float o[ND][4];
#pragma unroll
    for (int n = 0; n < ND; n++) {
        o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    }
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};  // row max (raw scores), sum

    for (int it = 0, j = jn; j < n_tiles; it++, j = jn) {
        // One barrier per tile: tile j has landed for every thread, and every warp is done with the
        // previous tile, whose buffers the load of the next one (overlapping this tile's math)
        // reuses.
        jn = next_tile(j + 1);
        cp_async_wait<0>();
        __syncthreads();
        if (jn < n_tiles) {
            load_kv(jn, (it + 1) % 2);
            cp_async_commit();
        }
        if (it == 0) {
#pragma unroll
            for (int kk = 0; kk < KD; kk++) {
                ldmatrix_x4(qf[kk], q_addr + kk * 32);
            }
        }
        const int64_t k0 = static_cast<int64_t>(j) * kBc;
        if (k0 > wpos0 + 15) {
            continue;  // every key of the tile is in the future of all the warp's rows
        }
        const uint32_t k_s = k_addr + (it % 2) * kBufBytes;
        const uint32_t v_s = v_addr + (it % 2) * kBufBytes;
        const int32_t* seg_s = sSeg + (it % 2) * kBc;
        const bool one_seg = rng != nullptr && one_segment(rng[j], qr);

        float s[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) {
            s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
        }
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
#pragma unroll
            for (int np = 0; np < 4; np++) {
                uint32_t kb[4];
                ldmatrix_x4(kb, k_s + (np * 16 * LDS + kk * 16) * 2);
                mma_bf16(s[2 * np], qf[kk], kb[0], kb[1]);
                mma_bf16(s[2 * np + 1], qf[kk], kb[2], kb[3]);
            }
        }
        // Only tiles reaching past the warp's first query need the causal mask.
        const bool need_mask = (seg != nullptr && !one_seg) || k0 + kBc - 1 > wpos0;
        const int wrel = static_cast<int>(wpos0 - k0);  // tile column of the warp's first query
        // The branch stays outside the loops: with it inside, the compiler evaluated the mask
        // for every tile (the forward ran ~15% slower).
        if (need_mask) {
#pragma unroll
            for (int n = 0; n < 8; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int kc = n * 8 + 2 * tq + (e & 1);
                    const int r = e / 2;
                    const bool vis =
                        kc <= wrel + g + 8 * r && (seg == nullptr || seg_s[kc] == qseg[r]);
                    s[n][e] = vis ? s[n][e] : -INFINITY;
                }
            }
        }
        float mx[2] = {m[0], m[1]};  // raw scores: scale_log2 is folded into the exp2 FMAs
#pragma unroll
        for (int n = 0; n < 8; n++) {
            mx[0] = fmaxf(mx[0], fmaxf(s[n][0], s[n][1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[n][2], s[n][3]));
        }
        float alpha[2], mu[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            mu[r] = (mx[r] == -INFINITY ? 0.0f : mx[r]) * scale_log2;  // 0: all masked so far
            alpha[r] = fast_exp2(fmaf(m[r], scale_log2, -mu[r]));
            m[r] = mx[r];
            l[r] *= alpha[r];
        }
#pragma unroll
        for (int n = 0; n < ND; n++) {
            o[n][0] *= alpha[0];
            o[n][1] *= alpha[0];
            o[n][2] *= alpha[1];
            o[n][3] *= alpha[1];
        }
        uint32_t pa[4][4];  // P as the A operand: k-step kk covers keys 16 kk .. 16 kk + 15
#pragma unroll
        for (int n = 0; n < 8; n++) {
            const float p0 = fast_exp2(fmaf(s[n][0], scale_log2, -mu[0]));
            const float p1 = fast_exp2(fmaf(s[n][1], scale_log2, -mu[0]));
            const float p2 = fast_exp2(fmaf(s[n][2], scale_log2, -mu[1]));
            const float p3 = fast_exp2(fmaf(s[n][3], scale_log2, -mu[1]));
            l[0] += p0 + p1;
            l[1] += p2 + p3;
            pa[n / 2][(n % 2) * 2] = pack_bf16(p0, p1);
            pa[n / 2][(n % 2) * 2 + 1] = pack_bf16(p2, p3);
        }
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
#pragma unroll
            for (int dp = 0; dp < DH / 16; dp++) {
                uint32_t vb[4];
                ldmatrix_x4_trans(vb, v_s + (kk * 16 * LDS + dp * 16) * 2);
                mma_bf16(o[2 * dp], pa[kk], vb[0], vb[1]);
                mma_bf16(o[2 * dp + 1], pa[kk], vb[2], vb[3]);
            }
        }
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t t = row0 + 8 * r;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        if constexpr (kDsum) {
            const float* dout = a.dout32 + b * a.q32_bs + t * a.q32_rs + h * DH + 2 * tq;
            float dot = 0.0f;
            if (t < a.T) {
#pragma unroll
                for (int n = 0; n < ND; n++) {
                    dot +=
                        o[n][2 * r] * inv * dout[n * 8] + o[n][2 * r + 1] * inv * dout[n * 8 + 1];
                }
            }
            dot += __shfl_xor_sync(0xffffffffu, dot, 1);
            dot += __shfl_xor_sync(0xffffffffu, dot, 2);
            if (t < a.T && tq == 0) {
                dsum[(b * a.Hq + h) * a.T + t] = dot;
            }
        } else if (kMode == FwdMode::kF32 && t < a.T && !vec) {
            float* dst = static_cast<float*>(a.out) + b * a.out_bs + t * a.out_rs + h * DH + 2 * tq;
#pragma unroll
            for (int n = 0; n < ND; n++) {
                dst[n * 8] = o[n][2 * r] * inv;
                dst[n * 8 + 1] = o[n][2 * r + 1] * inv;
            }
        }
        if (!kDsum && t < a.T && a.lse != nullptr && tq == 0) {
            a.lse[(b * a.Hq + h) * a.T + t] = (m[r] * scale_log2 + log2f(l[r])) * kLn2;
        }
    }
    if (kDsum || (kMode == FwdMode::kF32 && !vec)) {
        return;
    }
    // 4 consecutive columns of one row per lane (quad_row4): 16-byte fp32 or 8-byte bf16 stores.
    const int64_t t = row0 + quad_row(tq);
    const float lr = (tq & 1) != 0 ? l[1] : l[0];
    const float inv = lr > 0.0f ? 1.0f / lr : 0.0f;
    const int64_t off = b * a.out_bs + t * a.out_rs + h * DH + 2 * (tq & ~1);
#pragma unroll
    for (int n = 0; n < ND; n++) {
        const float4 x = quad_row4(o[n][0], o[n][1], o[n][2], o[n][3], tq);
        if (t >= a.T) {
            continue;
        }
        if constexpr (kMode == FwdMode::kBf16) {
            const uint2 u =
                make_uint2(pack_bf16(x.x * inv, x.y * inv), pack_bf16(x.z * inv, x.w * inv));
            *reinterpret_cast<uint2*>(static_cast<__nv_bfloat16*>(a.out) + off + n * 8) = u;
        } else {
            *reinterpret_cast<float4*>(static_cast<float*>(a.out) + off + n * 8) =
                make_float4(x.x * inv, x.y * inv, x.z * inv, x.w * inv);
        }
    }
}

template <int DH, FwdMode kMode>
void launch_fwd(cudaStream_t stream, const MmaArgs& a, float* dsum) {
    const dim3 grid(static_cast<unsigned>(a.B * a.Hq),
                    static_cast<unsigned>((a.T + kBr - 1) / kBr));
    constexpr int smem = fwd_smem_bytes<DH>();
    QF_CUDA_CHECK(cudaFuncSetAttribute(attn_fwd_mma_kernel<DH, kMode>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    const bool vec = kMode == FwdMode::kBf16 ||
                     (reinterpret_cast<uintptr_t>(a.q32) % 16 == 0 &&
                      (kMode == FwdMode::kDsum || reinterpret_cast<uintptr_t>(a.out) % 16 == 0) &&
                      a.q32_bs % 4 == 0 && a.q32_rs % 4 == 0);
    attn_fwd_mma_kernel<DH, kMode>
        <<<grid, kThreads, smem, stream>>>(a, attn_scale_log2(DH), dsum, vec);
    QF_CUDA_LAUNCH_CHECK();
}

// ---- backward --------------------------------------------------------------------------------

// Backward: query tiles double-buffered (the next one loads during this one's math). With 128
// keys a block at D = 128 that is 159744 bytes of shared memory (one block, 8 warps, per SM).
constexpr int kBwdStages = 2;
static_assert(kBwdStages == 2, "the backward's query-tile loop assumes double buffering");

template <int DH, int KB>
constexpr int bwd_smem_bytes() {
    return (2 * KB + 2 * kBwdStages * kBr) * kLds<DH> * 2 + KB * kLdsS * 2 +
           (3 * kBwdStages * kBr + KB) * 4;
}

template <int DH, int KB>
__global__ void __launch_bounds__(KB * 2, 1)
    attn_bwd_mma_kernel(MmaArgs a, float scale, float scale_log2, const float* dsum, float* dq,
                        float* dk, float* dv, bool vec_q, bool vec_kv) {
    constexpr int THREADS = KB * 2;  // KB / 16 warps
    constexpr int LDS = kLds<DH>;
    constexpr int KD = DH / 16;
    constexpr int ND = DH / 8;
    // dQ = dS K: warp w computes query rows 16 (w % 4) .. + 15, columns [DQ (w / 4), + DQ).
    constexpr int DQ = DH / (KB / 64);
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int NS = kBwdStages;
    auto* sK = reinterpret_cast<__nv_bfloat16*>(smem);  // [KB keys][LDS]
    __nv_bfloat16* sV = sK + KB * LDS;
    __nv_bfloat16* sQb = sV + KB * LDS;                       // [NS][64 queries][LDS]
    __nv_bfloat16* sOb = sQb + NS * kBr * LDS;                // dout, [NS][64][LDS]
    __nv_bfloat16* sS = sOb + NS * kBr * LDS;                 // dS^T [KB keys][kLdsS]
    auto* sLseb = reinterpret_cast<float*>(sS + KB * kLdsS);  // [NS][64], log2 units
    float* sDsumb = sLseb + NS * kBr;
    auto* sSegQb = reinterpret_cast<int32_t*>(sDsumb + NS * kBr);
    int32_t* sSegK = sSegQb + NS * kBr;

    const int tid = static_cast<int>(threadIdx.x);
    const int lane = tid % 32, warp = tid / 32;
    const int g = lane / 4, tq = lane % 4;
    const int64_t bh = blockIdx.x;
    const int64_t b = bh / a.Hq, h = bh % a.Hq;
    const int64_t kvh = h / (a.Hq / a.Hkv);
    const int64_t j0 = static_cast<int64_t>(blockIdx.y) * KB;
    if (j0 >= a.q_pos0 + a.T) {
        return;  // keys past the last query are never seen
    }
    const int64_t first_t = j0 - a.q_pos0 > 0 ? j0 - a.q_pos0 : 0;
    const int64_t qt_begin = first_t / kBr;
    const int64_t n_qt = (a.T + kBr - 1) / kBr;
    const __nv_bfloat16* qh = a.q.ptr + b * a.q.bs + h * DH;
    const __nv_bfloat16* oh = a.dout.ptr + b * a.dout.bs + h * DH;
    const __nv_bfloat16* kh = a.k.ptr + b * a.k.bs + kvh * DH;
    const __nv_bfloat16* vh = a.v.ptr + b * a.v.bs + kvh * DH;
    const int32_t* seg = a.seg != nullptr ? a.seg + b * a.T : nullptr;
    const int64_t stat0 = (b * a.Hq + h) * a.T;
    // Query tiles whose segment ids cannot meet this key block's are skipped (every score masked).
    const int2* rng = a.seg_tiles != nullptr ? a.seg_tiles + b * n_qt : nullptr;
    int2 kr = make_int2(0, 0);
    if (rng != nullptr) {
        kr = rng[j0 / kBr];
        for (int64_t i = j0 / kBr + 1; i < n_qt && i * kBr < j0 + KB; i++) {
            kr = make_int2(min(kr.x, rng[i].x), max(kr.y, rng[i].y));
        }
    }
    auto next_tile = [&](int64_t qt) {
        while (rng != nullptr && qt < n_qt && !ranges_meet(rng[qt], kr)) {
            ++qt;
        }
        return qt;
    };

    auto load_q_tile = [&](int64_t qt, int buf) {
        const int64_t t0 = qt * kBr;
        load_tile_async<DH, THREADS>(sQb + buf * kBr * LDS, qh, a.q.rs, t0, a.T);
        load_tile_async<DH, THREADS>(sOb + buf * kBr * LDS, oh, a.dout.rs, t0, a.T);
        if (tid < kBr) {
            const int64_t t = t0 + tid;
            const bool valid = t < a.T;
            sLseb[buf * kBr + tid] = valid ? a.lse[stat0 + t] * kLog2e : INFINITY;  // P = 0
            sDsumb[buf * kBr + tid] = valid ? dsum[stat0 + t] : 0.0f;
            sSegQb[buf * kBr + tid] = (seg != nullptr && valid) ? seg[t] : -2;
        }
    };
    load_tile_async<DH, THREADS, KB>(sK, kh, a.k.rs, j0, a.Tk);
    load_tile_async<DH, THREADS, KB>(sV, vh, a.v.rs, j0, a.Tk);
    int64_t qn =
        next_tile(qt_begin);  // the next tile to visit (the block's diagonal one always is)
    if (qn < n_qt) {
        load_q_tile(qn, 0);
    }
    cp_async_commit();
    if (seg != nullptr && tid < KB) {
        sSegK[tid] = j0 + tid < a.T ? seg[j0 + tid] : -1;
    }
    // This thread's keys (rows of S^T): j0 + 16 warp + g and + 8.
    const int kr0 = warp * 16 + g;
    // This lane's ldmatrix row addresses (bytes): A = its warp's K / V rows; B = Q / dO rows
    // (buffer 0) read as [query][d] (non-trans) and as [d][query] (trans); the dQ step's dS^T
    // and K^T. k-step / n-tile offsets are immediates.
    const uint32_t ka_addr = smem_addr(sK + (warp * 16 + lane % 16) * LDS + (lane / 16) * 8);
    const uint32_t va_addr = ka_addr + KB * LDS * 2;  // sV follows sK
    const uint32_t qb_addr =
        smem_addr(sQb + ((lane / 16) * 8 + lane % 8) * LDS + ((lane / 8) % 2) * 8);
    const uint32_t qt_addr =
        smem_addr(sQb + (((lane / 8) % 2) * 8 + lane % 8) * LDS + (lane / 16) * 8);
    constexpr uint32_t kOBytes = NS * kBr * LDS * 2;  // sOb - sQb
    constexpr uint32_t kBufBytes = kBr * LDS * 2;
    const uint32_t kt_addr =
        smem_addr(sK + (((lane / 8) % 2) * 8 + lane % 8) * LDS + (lane / 16) * 8);

    float dkacc[ND][4], dvacc[ND][4];
#pragma unroll
    for (int n = 0; n < ND; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            dkacc[n][e] = 0.0f;
            dvacc[n][e] = 0.0f;
        }
    }

    for (int64_t it = 0, qt = qn; qt < n_qt; it++, qt = qn) {
        const int64_t t0 = qt * kBr;
        const int buf = static_cast<int>(it & 1);
        // One barrier: tile qt has landed for every thread, and every warp is done with the
        // previous tile (its buffers, which the load of the next one now reuses, and sS).
        qn = next_tile(qt + 1);
        cp_async_wait<0>();
        __syncthreads();
        if (qn < n_qt) {
            load_q_tile(qn, buf ^ 1);
            cp_async_commit();
        }
        const bool one_seg = rng != nullptr && one_segment(rng[qt], kr);
        const float* sLse = sLseb + buf * kBr;
        const float* sDsum = sDsumb + buf * kBr;
        const int32_t* sSegQ = sSegQb + buf * kBr;

        // A warp whose keys all come after the tile's last query adds nothing (dS^T rows: 0).
        if (j0 + warp * 16 > a.q_pos0 + t0 + kBr - 1) {
            if (dq != nullptr) {
#pragma unroll
                for (int n = 0; n < 8; n++) {
                    auto* srow = reinterpret_cast<uint32_t*>(sS + kr0 * kLdsS + n * 8 + 2 * tq);
                    srow[0] = 0u;
                    srow[8 * kLdsS / 2] = 0u;
                }
            }
        } else {
            // S^T = K Q^T, dP^T = V dO^T: rows = the warp's 16 keys, columns = 64 queries.
            float st[8][4], dpt[8][4];
#pragma unroll
            for (int n = 0; n < 8; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    st[n][e] = 0.0f;
                    dpt[n][e] = 0.0f;
                }
            }
#pragma unroll
            for (int kk = 0; kk < KD; kk++) {
                uint32_t ka[4], va[4];
                ldmatrix_x4(ka, ka_addr + kk * 32);
                ldmatrix_x4(va, va_addr + kk * 32);
#pragma unroll
                for (int np = 0; np < 4; np++) {
                    const uint32_t a = qb_addr + buf * kBufBytes + (np * 16 * LDS + kk * 16) * 2;
                    uint32_t qb[4], ob[4];
                    ldmatrix_x4(qb, a);
                    ldmatrix_x4(ob, a + kOBytes);
                    mma_bf16(st[2 * np], ka, qb[0], qb[1]);
                    mma_bf16(st[2 * np + 1], ka, qb[2], qb[3]);
                    mma_bf16(dpt[2 * np], va, ob[0], ob[1]);
                    mma_bf16(dpt[2 * np + 1], va, ob[2], ob[3]);
                }
            }
            // Only the warp's tiles on the diagonal need the causal mask (a masked score becomes
            // -inf, P 0); the branch stays outside the loops so other tiles skip the arithmetic.
            if ((seg != nullptr && !one_seg) || j0 + warp * 16 + 15 > a.q_pos0 + t0) {
                const int krel = static_cast<int>(j0 - a.q_pos0 - t0);  // key row - query column
#pragma unroll
                for (int n = 0; n < 8; n++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int qc = n * 8 + 2 * tq + (e & 1);
                        const int kr = kr0 + (e / 2) * 8;
                        const bool vis =
                            krel + kr <= qc && (seg == nullptr || sSegK[kr] == sSegQ[qc]);
                        st[n][e] = vis ? st[n][e] : -INFINITY;
                    }
                }
            }
            uint32_t pa[4][4], dsa[4][4];  // P^T, dS^T as A operands (k-step = 16 queries)
#pragma unroll
            for (int n = 0; n < 8; n++) {
                float pv[4], dsv[4];
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int qc = n * 8 + 2 * tq + (e & 1);
                    pv[e] = fast_exp2(fmaf(st[n][e], scale_log2, -sLse[qc]));
                    dsv[e] = pv[e] * (dpt[n][e] - sDsum[qc]);
                }
                pa[n / 2][(n % 2) * 2] = pack_bf16(pv[0], pv[1]);
                pa[n / 2][(n % 2) * 2 + 1] = pack_bf16(pv[2], pv[3]);
                dsa[n / 2][(n % 2) * 2] = pack_bf16(dsv[0], dsv[1]);
                dsa[n / 2][(n % 2) * 2 + 1] = pack_bf16(dsv[2], dsv[3]);
                auto* srow = reinterpret_cast<uint32_t*>(sS + kr0 * kLdsS + n * 8 + 2 * tq);
                srow[0] = dsa[n / 2][(n % 2) * 2];
                srow[8 * kLdsS / 2] = dsa[n / 2][(n % 2) * 2 + 1];
            }
            // dV += P^T dO, dK += dS^T Q (B operands: dO, Q are [query][d], i.e. k-major: trans).
#pragma unroll
            for (int kk = 0; kk < 4; kk++) {
#pragma unroll
                for (int dp = 0; dp < DH / 16; dp++) {
                    const uint32_t a = qt_addr + buf * kBufBytes + (kk * 16 * LDS + dp * 16) * 2;
                    uint32_t ob[4], qb[4];
                    ldmatrix_x4_trans(ob, a + kOBytes);
                    ldmatrix_x4_trans(qb, a);
                    mma_bf16(dvacc[2 * dp], pa[kk], ob[0], ob[1]);
                    mma_bf16(dvacc[2 * dp + 1], pa[kk], ob[2], ob[3]);
                    mma_bf16(dkacc[2 * dp], dsa[kk], qb[0], qb[1]);
                    mma_bf16(dkacc[2 * dp + 1], dsa[kk], qb[2], qb[3]);
                }
            }
        }
        if (dq == nullptr) {
            continue;
        }
        __syncthreads();  // sS (dS^T) complete
        // dQ = dS K for query rows 16 (warp % 4) .. + 15, columns [DQ (warp / 4), + DQ): A = dS
        // from sS [key][query] (trans), B = K [key][d] (k-major: trans).
        const int qw = warp % 4, d0 = (warp / 4) * DQ;
        uint32_t da[KB / 16][4];
#pragma unroll
        for (int kk = 0; kk < KB / 16; kk++) {
            const int mi = lane / 8;
            ldmatrix_x4_trans(
                da[kk], sS + (kk * 16 + (mi / 2) * 8 + lane % 8) * kLdsS + qw * 16 + (mi % 2) * 8);
        }
        float* const dq_tile = dq + b * a.dq_bs + h * DH + d0;
#pragma unroll
        for (int dp = 0; dp < DQ / 16; dp++) {
            float acc[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
            for (int kk = 0; kk < KB / 16; kk++) {
                uint32_t kb[4];
                ldmatrix_x4_trans(kb, kt_addr + (kk * 16 * LDS + d0 + dp * 16) * 2);
                mma_bf16(acc[0], da[kk], kb[0], kb[1]);
                mma_bf16(acc[1], da[kk], kb[2], kb[3]);
            }
            // Query rows t0 + 16 qw .., columns d0 + 16 dp ..
            atomic_add_fragment<2>(dq_tile + dp * 16, a.dq_rs, t0 + qw * 16, a.T, &acc[0][0], scale,
                                   g, tq, vec_q);
        }
    }

    // dK, dV rows of the warp's keys (atomics: the other query heads of the group add too).
    const int64_t warp_key0 = j0 + warp * 16;
    if (dk != nullptr) {
        atomic_add_fragment<ND>(dk + b * a.dkv_bs + kvh * DH, a.dkv_rs, warp_key0, a.Tk,
                                &dkacc[0][0], scale, g, tq, vec_kv);
    }
    if (dv != nullptr) {
        atomic_add_fragment<ND>(dv + b * a.dkv_bs + kvh * DH, a.dkv_rs, warp_key0, a.Tk,
                                &dvacc[0][0], 1.0f, g, tq, vec_kv);
    }
}

template <int DH, int KB = kBwdKeys<DH>>
void launch_bwd(cudaStream_t stream, const MmaArgs& a, const float* dsum, float* dq, float* dk,
                float* dv) {
    const dim3 grid(static_cast<unsigned>(a.B * a.Hq), static_cast<unsigned>((a.Tk + KB - 1) / KB));
    constexpr int smem = bwd_smem_bytes<DH, KB>();
    QF_CUDA_CHECK(cudaFuncSetAttribute(attn_bwd_mma_kernel<DH, KB>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    auto aligned = [](const float* x) {
        return reinterpret_cast<uintptr_t>(x) % 16 == 0;
    };
    const bool vec_q = aligned(dq) && a.dq_bs % 4 == 0 && a.dq_rs % 4 == 0;
    const bool vec_kv = aligned(dk) && aligned(dv) && a.dkv_bs % 4 == 0 && a.dkv_rs % 4 == 0;
    attn_bwd_mma_kernel<DH, KB>
        <<<grid, KB * 2, smem, stream>>>(a, 1.0f / sqrtf(static_cast<float>(DH)),
                                         attn_scale_log2(DH), dsum, dq, dk, dv, vec_q, vec_kv);
    QF_CUDA_LAUNCH_CHECK();
}

// dsum (B,Hq,T) = dot(dout, out) per query row of the bf16 API: one group of DH / 8 lanes per row
// (b, t, h), 8 products from two 16-byte loads each, summed with shuffles inside the group.
template <int DH>
__global__ void attn_dsum_bf16_kernel(float* dsum, Bf16In out, Bf16In dout, int64_t T, int64_t H,
                                      int64_t rows) {
    constexpr int G = DH / 8;
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    const int64_t row = i / G;
    const int c = static_cast<int>(i % G);
    float acc = 0.0f;
    const int64_t h = row % H, t = (row / H) % T, b = row / (H * T);
    if (row < rows) {
        const uint4 x =
            *reinterpret_cast<const uint4*>(out.ptr + b * out.bs + t * out.rs + h * DH + c * 8);
        const uint4 y =
            *reinterpret_cast<const uint4*>(dout.ptr + b * dout.bs + t * dout.rs + h * DH + c * 8);
        const uint32_t xs[4] = {x.x, x.y, x.z, x.w}, ys[4] = {y.x, y.y, y.z, y.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const float2 xf = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&xs[k]));
            const float2 yf = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&ys[k]));
            acc = fmaf(xf.x, yf.x, fmaf(xf.y, yf.y, acc));
        }
    }
#pragma unroll
    for (int m = G / 2; m > 0; m /= 2) {
        acc += __shfl_xor_sync(0xffffffffu, acc, m);
    }
    if (row < rows && c == 0) {
        dsum[(b * H + h) * T + t] = acc;
    }
}

template <int DH>
void dsum_bf16(cudaStream_t stream, const MmaArgs& a, float* dsum) {
    const int64_t rows = a.B * a.T * a.Hq;
    const int64_t threads = rows * (DH / 8);
    const Bf16In out{static_cast<const __nv_bfloat16*>(a.out), a.out_bs,
                     static_cast<int>(a.out_rs)};
    attn_dsum_bf16_kernel<DH><<<static_cast<unsigned>((threads + 255) / 256), 256, 0, stream>>>(
        dsum, out, a.dout, a.T, a.Hq, rows);
    QF_CUDA_LAUNCH_CHECK();
}

float* dsum_scratch(void* stream, int64_t rows) {
    return static_cast<float*>(
        stream_scratch(stream, ScratchSlot::kAttentionRows, static_cast<size_t>(rows) * 4));
}

}  // namespace

void attention_mma_forward(void* stream, const AttnParams& p) {
    if (p.B == 0 || p.T == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    MmaArgs a = make_f32_args(s, p, nullptr, false);
    a.seg_tiles = seg_tile_ranges(s, a);
    p.D == 64 ? launch_fwd<64, FwdMode::kF32>(s, a, nullptr)
              : launch_fwd<128, FwdMode::kF32>(s, a, nullptr);
}

void attention_mma_backward(void* stream, const AttnParams& p, float* dq, float* dk, float* dv,
                            const float* dout) {
    if (p.B == 0 || p.T == 0 || (dq == nullptr && dk == nullptr && dv == nullptr)) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    float* dsum = dsum_scratch(stream, p.B * p.Hq * p.T);
    MmaArgs a = make_f32_args(s, p, dout, true);
    a.seg_tiles = seg_tile_ranges(s, a);
    if (p.out != nullptr) {
        attention_dsum(s, p, dout, dsum, false);  // dot(dout, out), fp32
    } else {
        p.D == 64 ? launch_fwd<64, FwdMode::kDsum>(s, a, dsum)
                  : launch_fwd<128, FwdMode::kDsum>(s, a, dsum);
    }
    p.D == 64 ? launch_bwd<64>(s, a, dsum, dq, dk, dv) : launch_bwd<128>(s, a, dsum, dq, dk, dv);
}

void attention_mma_forward_bf16(void* stream, const AttnBf16Params& p, bool wgmma) {
    if (p.B == 0 || p.T == 0) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    MmaArgs a = make_bf16_args(p, nullptr, 0);
    a.seg_tiles = seg_tile_ranges(s, a);
    if (wgmma && wgmma_attention_available()) {
        attention_wgmma_forward_bf16(s, a, p.D);
        return;
    }
    p.D == 64 ? launch_fwd<64, FwdMode::kBf16>(s, a, nullptr)
              : launch_fwd<128, FwdMode::kBf16>(s, a, nullptr);
}

void attention_mma_backward_bf16(void* stream, const AttnBf16Params& p, float* dq, float* dk,
                                 float* dv, const uint16_t* dout, int64_t dout_row_stride,
                                 bool wgmma, int wgmma_heads) {
    if (p.B == 0 || p.T == 0 || (dq == nullptr && dk == nullptr && dv == nullptr)) {
        return;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    float* dsum = dsum_scratch(stream, p.B * p.Hq * p.T);
    MmaArgs a = make_bf16_args(p, dout, dout_row_stride);
    a.seg_tiles = seg_tile_ranges(s, a);
    if (p.D == 64) {
        dsum_bf16<64>(s, a, dsum);
        launch_bwd<64>(s, a, dsum, dq, dk, dv);
    } else if (wgmma && wgmma_attention_available()) {
        dsum_bf16<128>(s, a, dsum);
        attention_wgmma_backward_bf16(s, a, dsum, dq, dk, dv, wgmma_heads);
    } else {
        dsum_bf16<128>(s, a, dsum);
        launch_bwd<128>(s, a, dsum, dq, dk, dv);
    }
}

}  // namespace qforge::kernels::cuda
