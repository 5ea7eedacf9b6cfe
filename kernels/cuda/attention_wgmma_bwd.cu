// What is here: the bf16 flash-attention backward on Hopper's warpgroup MMA (wgmma, sm_90a), for
// head_dim 128 through the bf16 API; attention_mma.cu calls it in place of its mma.sync backward
// where wgmma_attention_available() says the GPU and the build have it.
//
// One block per (128 keys, GQA group, batch): two warpgroups of 64 keys, each keeping its dK, dV
// (64 x 128 fp32) in registers over the query tiles of 64 of every query head of the group, head
// by head (K, V and the double-buffered Q, dO tiles come by TMA into 128-byte-swizzled shared
// tiles, an mbarrier per stage; lse, dsum and segment ids beside them by cp.async). Per tile and
// warpgroup: S^T = K Q^T and dP^T = V dO^T are m64n64k16 wgmma from shared memory (all K-major);
// P^T and dS^T = P^T (dP^T - dsum) are made in registers, where the accumulator fragments have
// mma.sync's layout, so the masking is that of attention_mma.cu; dV += P^T dO and dK += dS^T Q take
// P^T, dS^T as register A operands and dO, Q read MN-major. dS^T also goes to shared memory (bf16),
// and after a barrier dQ = dS K is m64n64k16 with both operands MN-major, warpgroup w taking
// columns 64 w.., staged in shared memory (fp32) and added to dq by bulk (TMA) reductions during
// the next tile. dK, dV are added at the end with plain loads and stores: no other block has the
// group's keys. The mma.sync backward reads each Q / dO fragment from shared memory once per 16
// keys; wgmma reads it once per 64.
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_fragments.cuh"
#include "kernels/cuda/attention_mma_args.cuh"
#include "kernels/cuda/attention_wgmma.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/device_info.cuh"
#include "kernels/cuda/mma_ptx.cuh"
#include "kernels/cuda/tma.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int DH = 128;         // head_dim
constexpr int kKeys = 128;      // keys per block
constexpr int kGroupKeys = 64;  // keys per warpgroup
constexpr int kQ = 64;          // queries per tile (= the rows of an MmaArgs::seg_tiles entry)
constexpr int kThreads = 256;   // two warpgroups
constexpr uint32_t kKvBytes = kKeys * DH * 2;  // a K or V block
constexpr uint32_t kQBytes = kQ * DH * 2;      // a Q or dO tile
constexpr uint32_t kDsBytes = kKeys * kQ * 2;  // dS^T [key][query]
// A tile's dQ in fp32, [query][d], rows padded by 32 bytes so that a warp's 8-byte fragment stores
// of 4 rows (half a warp) hit 32 distinct banks; the bulk reduction reads each row's 512 bytes.
constexpr uint32_t kDqRowBytes = DH * 4 + 32;
constexpr uint32_t kDqBytes = kQ * kDqRowBytes;

// K, V, two stages of Q and of dO, dS^T, dQ, then per stage lse, dsum and query segment ids, the
// key segment ids, three mbarriers (K and V, the two Q / dO stages); 1 KB to align the tiles to
// 1024.
constexpr int kSmemBytes = static_cast<int>(2 * kKvBytes + 4 * kQBytes + kDsBytes + kDqBytes) +
                           (2 * 3 * kQ + kKeys) * 4 + 3 * 8 + 1024;

__global__ void __launch_bounds__(kThreads, 1)
    attn_bwd_wgmma_kernel(MmaArgs a, float scale, float scale_log2, const float* dsum, float* dq,
                          float* dk, float* dv, bool vec_q, bool vec_kv, int heads,
                          const __grid_constant__ CUtensorMap q_map,
                          const __grid_constant__ CUtensorMap o_map,
                          const __grid_constant__ CUtensorMap k_map,
                          const __grid_constant__ CUtensorMap v_map) {
#if QF_HAS_WGMMA
    extern __shared__ __align__(128) unsigned char smem_raw[];
    const uint32_t raw = smem_addr(smem_raw);
    const uint32_t sK = (raw + 1023u) & ~1023u;
    const uint32_t sV = sK + kKvBytes, sQ = sV + kKvBytes, sO = sQ + 2 * kQBytes;
    const uint32_t sDs = sO + 2 * kQBytes, sDq = sDs + kDsBytes;
    unsigned char* const sDs_ptr = smem_raw + (sDs - raw);
    unsigned char* const sDq_ptr = sDs_ptr + kDsBytes;
    auto* sLseb = reinterpret_cast<float*>(sDq_ptr + kDqBytes);            // [2][kQ], natural log
    float* sDsumb = sLseb + 2 * kQ;                                        // [2][kQ]
    auto* sSegQb = reinterpret_cast<int32_t*>(sDsumb + 2 * kQ);            // [2][kQ]
    int32_t* sSegK = sSegQb + 2 * kQ;                                      // [kKeys]
    const uint32_t sBarKv = smem_addr(sSegK + kKeys), sBarQ = sBarKv + 8;  // sBarQ: [2]

    const int tid = static_cast<int>(threadIdx.x);
    const int lane = tid % 32, warp = tid / 32;
    const int group = warp / 4, gw = warp % 4;  // warpgroup, warp in it
    const int g = lane / 4, tq = lane % 4;
    // Block x: (batch, KV head, part of the GQA group); the part's `heads` query heads from h0.
    const int64_t group_heads = a.Hq / a.Hkv, parts = group_heads / heads;
    const int64_t bkv = blockIdx.x / parts;
    const int64_t b = bkv / a.Hkv, kvh = bkv % a.Hkv;
    const int64_t h0 = kvh * group_heads + (blockIdx.x % parts) * heads;
    const int64_t j0 = static_cast<int64_t>(blockIdx.y) * kKeys;
    if (j0 >= a.q_pos0 + a.T) {
        return;  // keys past the last query are never seen
    }
    const int64_t first_t = j0 - a.q_pos0 > 0 ? j0 - a.q_pos0 : 0;
    const int64_t n_qt = (a.T + kQ - 1) / kQ;
    const int32_t* seg = a.seg != nullptr ? a.seg + b * a.T : nullptr;

    // This warpgroup's keys: gj0 .. gj0 + 63. Segment-id ranges (64-row entries) of the group's and
    // the block's keys: query tiles that meet none of the block's are not loaded.
    const int64_t gj0 = j0 + group * kGroupKeys;
    const bool group_live = gj0 < a.Tk;  // a group wholly past Tk only joins loads and barriers
    const int2* rng = a.seg_tiles != nullptr ? a.seg_tiles + b * n_qt : nullptr;
    int2 group_kr = make_int2(0, 0), block_kr = make_int2(0, 0);
    if (rng != nullptr) {
        const int64_t i = j0 / kQ;
        block_kr = i + 1 < n_qt
                       ? make_int2(min(rng[i].x, rng[i + 1].x), max(rng[i].y, rng[i + 1].y))
                       : rng[i];
        group_kr = i + group < n_qt ? rng[i + group] : block_kr;
    }
    auto next_tile = [&](int64_t qt) {
        while (rng != nullptr && qt < n_qt && !ranges_meet(rng[qt], block_kr)) {
            ++qt;
        }
        return qt;
    };
    // The block visits (query head, query tile) pairs, head by head: (hn, qn) is the next one.
    const int first_qt = static_cast<int>(next_tile(first_t / kQ));
    auto load_q_tile = [&](int head, int qt, int buf) {
        const int64_t t0 = int64_t{qt} * kQ, h = h0 + head;
        const int64_t stat0 = (b * a.Hq + h) * a.T;
        if (tid == 0) {  // Q and dO by TMA (rows past T read as zeros)
            tma_load_tile_pair<DH, kQ>(sQ + buf * kQBytes, &q_map, sO + buf * kQBytes, &o_map,
                                       static_cast<int>(h), static_cast<int>(t0),
                                       static_cast<int>(b), sBarQ + buf * 8);
        }
        // The rows' lse, dsum and segment ids come by cp.async too: a plain load held warps 0, 1
        // (and so the first warpgroup's next wgmma) for a global-memory latency every tile.
        if (tid < 3 * kQ) {
            const int which = tid / kQ;
            const int64_t t = t0 + tid % kQ;
            const uint32_t dst =
                smem_addr(sLseb) + static_cast<uint32_t>(((which * 2 + buf) * kQ + tid % kQ) * 4);
            if (t < a.T && which < 2) {
                cp_async4(dst, which == 0 ? a.lse + stat0 + t : dsum + stat0 + t);
            } else if (t < a.T && seg != nullptr) {
                cp_async4(dst, seg + t);
            } else {
                const uint32_t fill = which == 0 ? __float_as_uint(INFINITY)
                                                 : (which == 1 ? 0u : (t < a.T ? 0u : ~1u));
                asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(dst), "r"(fill) : "memory");
            }
        }
    };
    if (tid == 0) {
        mbar_init(sBarKv, 1);
        mbar_init(sBarQ, 1);
        mbar_init(sBarQ + 8, 1);
        mbar_init_fence();
    }
    __syncthreads();
    if (tid == 0 && first_qt < n_qt) {  // K and V by TMA (rows past Tk read as zeros)
        tma_load_tile_pair<DH, kKeys>(sK, &k_map, sV, &v_map, static_cast<int>(kvh),
                                      static_cast<int>(j0), static_cast<int>(b), sBarKv);
    }
    int hn = first_qt < n_qt ? 0 : heads, qn = first_qt;  // first_qt = n_qt: no query is seen
    if (hn < heads) {
        load_q_tile(hn, qn, 0);
    }
    cp_async_commit();
    if (seg != nullptr && tid < kKeys) {
        sSegK[tid] = j0 + tid < a.T ? seg[j0 + tid] : -1;
    }

    // This thread's keys (rows of S^T), relative to j0: kr0 and kr0 + 8.
    const int kr0 = group * kGroupKeys + gw * 16 + g;
    const uint32_t k_rows = sK + group * kGroupKeys * kSw128RowBytes;  // the group's K rows
    const uint32_t v_rows = sV + group * kGroupKeys * kSw128RowBytes;

    float dkacc[DH / 2], dvacc[DH / 2];
#pragma unroll
    for (int i = 0; i < DH / 2; i++) {
        dkacc[i] = 0.0f;
        dvacc[i] = 0.0f;
    }

    // dQ goes through shared memory: in the next tile, once its S^T / dP^T wgmma are issued, lane 0
    // of each warp hands 8 of the tile's rows to bulk (TMA) reductions into dq. The per-thread
    // 16-byte atomics they replace drew a fifth of the kernel's stall samples (ncu), and stay where
    // dq rows are not 16-byte aligned (vec_q false).
    int64_t dq_t0 = -1, dq_h = 0;  // the tile and head whose dQ waits in sDq
    auto flush_dq = [&] {
        if (lane == 0) {
            const int64_t t = dq_t0 + warp * 8;
            float* row = dq + b * a.dq_bs + t * a.dq_rs + dq_h * DH;
            uint32_t src = sDq + warp * 8 * kDqRowBytes;
            for (int r = 0; r < 8 && t + r < a.T; r++, row += a.dq_rs, src += kDqRowBytes) {
                bulk_reduce_add_f32(row, src, DH * 4);
            }
            bulk_commit();
        }
    };

    for (int it = 0; hn < heads; it++) {
        const int qt = qn;
        const int64_t h = h0 + hn, t0 = int64_t{qt} * kQ;
        const int buf = static_cast<int>(it & 1);
        // One barrier: tile qt has landed for every thread, and both groups are done with the
        // previous tile (its buffers, which the load of the next one reuses, and dS^T).
        qn = static_cast<int>(next_tile(qt + 1));
        if (qn >= n_qt) {
            hn++;
            qn = first_qt;
        }
        cp_async_wait<0>();  // the statistics
        mbar_wait(sBarQ + buf * 8, (it / 2) & 1);
        if (it == 0) {
            mbar_wait(sBarKv, 0);
        }
        fence_proxy_async_shared();
        __syncthreads();
        if (hn < heads) {
            load_q_tile(hn, qn, buf ^ 1);
            cp_async_commit();
        }
        const float* sLse = sLseb + buf * kQ;
        const float* sDsum = sDsumb + buf * kQ;
        const int32_t* sSegQ = sSegQb + buf * kQ;
        const uint32_t q_s = sQ + buf * kQBytes, o_s = sO + buf * kQBytes;

        // A group whose keys all come after the tile's last query, or whose segment ids miss the
        // tile's, adds nothing (its dS^T rows: 0).
        const bool group_skips = !group_live || gj0 > a.q_pos0 + t0 + kQ - 1 ||
                                 (rng != nullptr && !ranges_meet(rng[qt], group_kr));
        if (group_skips) {
            if (dq_t0 >= 0) {
                flush_dq();
            }
            if (dq != nullptr) {
#pragma unroll
                for (int n = 0; n < kQ / 8; n++) {
                    for (int r = 0; r < 2; r++) {
                        *reinterpret_cast<uint32_t*>(
                            sDs_ptr + sw128_offset(kr0 + 8 * r, n * 8 + 2 * tq, kKeys)) = 0u;
                    }
                }
            }
        } else {
            float st[kQ / 2], dpt[kQ / 2];  // S^T, dP^T: rows = the group's keys, columns = queries
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < DH / 16; kk++) {
                const uint32_t col = (kk / 4) * kKeys * kSw128RowBytes + (kk % 4) * 32;
                const uint32_t qcol = (kk / 4) * kQ * kSw128RowBytes + (kk % 4) * 32;
                wgmma_m64n64k16_ss(st, wgmma_desc_sw128(k_rows + col, 16, kSw128AtomBytes),
                                   wgmma_desc_sw128(q_s + qcol, 16, kSw128AtomBytes), kk > 0);
            }
#pragma unroll
            for (int kk = 0; kk < DH / 16; kk++) {
                const uint32_t col = (kk / 4) * kKeys * kSw128RowBytes + (kk % 4) * 32;
                const uint32_t qcol = (kk / 4) * kQ * kSw128RowBytes + (kk % 4) * 32;
                wgmma_m64n64k16_ss(dpt, wgmma_desc_sw128(v_rows + col, 16, kSw128AtomBytes),
                                   wgmma_desc_sw128(o_s + qcol, 16, kSw128AtomBytes), kk > 0);
            }
            wgmma_commit();
            if (dq_t0 >= 0) {
                flush_dq();  // the previous tile's dQ, while S^T and dP^T are on the tensor cores
            }
            wgmma_wait<0>();
            wgmma_fence_operands(st);
            wgmma_fence_operands(dpt);

            // Fragment (n, e): key j0 + kr0 + 8 (e / 2), query t0 + 8 n + 2 tq + (e % 2). Only
            // warps on the diagonal (or with mixed segments) run the mask.
            const bool one_seg = rng != nullptr && one_segment(rng[qt], group_kr);
            if ((seg != nullptr && !one_seg) || j0 + kr0 - g + 15 > a.q_pos0 + t0) {
                const int krel = static_cast<int>(j0 - a.q_pos0 - t0);  // key row - query column
#pragma unroll
                for (int n = 0; n < kQ / 8; n++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int qc = n * 8 + 2 * tq + (e & 1);
                        const int kr = kr0 + (e / 2) * 8;
                        const bool vis =
                            krel + kr <= qc && (seg == nullptr || sSegK[kr] == sSegQ[qc]);
                        st[n * 4 + e] = vis ? st[n * 4 + e] : -INFINITY;
                    }
                }
            }
            uint32_t pa[kQ / 16][4], dsa[kQ / 16][4];  // P^T, dS^T as A operands (16 queries)
#pragma unroll
            for (int n = 0; n < kQ / 8; n++) {
                float pv[4], dsv[4];
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int qc = n * 8 + 2 * tq + (e & 1);
                    pv[e] = fast_exp2(fmaf(st[n * 4 + e], scale_log2, -sLse[qc] * kLog2e));
                    dsv[e] = pv[e] * (dpt[n * 4 + e] - sDsum[qc]);
                }
                pa[n / 2][(n % 2) * 2] = pack_bf16(pv[0], pv[1]);
                pa[n / 2][(n % 2) * 2 + 1] = pack_bf16(pv[2], pv[3]);
                dsa[n / 2][(n % 2) * 2] = pack_bf16(dsv[0], dsv[1]);
                dsa[n / 2][(n % 2) * 2 + 1] = pack_bf16(dsv[2], dsv[3]);
                if (dq != nullptr) {
                    *reinterpret_cast<uint32_t*>(sDs_ptr +
                                                 sw128_offset(kr0, n * 8 + 2 * tq, kKeys)) =
                        dsa[n / 2][(n % 2) * 2];
                    *reinterpret_cast<uint32_t*>(sDs_ptr +
                                                 sw128_offset(kr0 + 8, n * 8 + 2 * tq, kKeys)) =
                        dsa[n / 2][(n % 2) * 2 + 1];
                }
            }
            // dV += P^T dO, dK += dS^T Q: B = dO, Q read MN-major (16 queries x 128 d per k-step).
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < kQ / 16; kk++) {
                wgmma_m64n128k16_rs_mn(dvacc, pa[kk],
                                       wgmma_desc_sw128(o_s + kk * 16 * kSw128RowBytes,
                                                        kQ * kSw128RowBytes, kSw128AtomBytes));
            }
#pragma unroll
            for (int kk = 0; kk < kQ / 16; kk++) {
                wgmma_m64n128k16_rs_mn(dkacc, dsa[kk],
                                       wgmma_desc_sw128(q_s + kk * 16 * kSw128RowBytes,
                                                        kQ * kSw128RowBytes, kSw128AtomBytes));
            }
            wgmma_commit();
            // Before pa and dsa leave scope: the compiler does not know wgmma still reads them.
            wgmma_wait<0>();
        }
        if (dq == nullptr) {
            continue;
        }
        if (vec_q && lane == 0) {
            bulk_wait_read();  // sDq is free again
        }
        fence_proxy_async_shared();
        __syncthreads();  // dS^T complete
        // dQ (queries x d) = dS K for columns 64 group ..: A = dS read MN-major from dS^T
        // [key][query], B = K [key][d] read MN-major; 16 keys per k-step.
        float dqacc[32];
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kKeys / 16; kk++) {
            wgmma_m64n64k16_ss_mn(
                dqacc,
                wgmma_desc_sw128(sDs + kk * 16 * kSw128RowBytes, kKeys * kSw128RowBytes,
                                 kSw128AtomBytes),
                wgmma_desc_sw128(sK + group * kKeys * kSw128RowBytes + kk * 16 * kSw128RowBytes,
                                 kKeys * kSw128RowBytes, kSw128AtomBytes),
                kk > 0);
        }
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operands(dqacc);
        // Query rows t0 + 16 gw .., columns 64 group ..
        if (vec_q) {
            unsigned char* const row =
                sDq_ptr + (gw * 16 + g) * kDqRowBytes + (group * 64 + 2 * tq) * 4;
#pragma unroll
            for (int n = 0; n < 8; n++) {
                *reinterpret_cast<float2*>(row + n * 32) =
                    make_float2(dqacc[4 * n] * scale, dqacc[4 * n + 1] * scale);
                *reinterpret_cast<float2*>(row + 8 * kDqRowBytes + n * 32) =
                    make_float2(dqacc[4 * n + 2] * scale, dqacc[4 * n + 3] * scale);
            }
            dq_t0 = t0;
            dq_h = h;
        } else {
            atomic_add_fragment<8>(dq + b * a.dq_bs + h * DH + group * 64, a.dq_rs, t0 + gw * 16,
                                   a.T, dqacc, scale, g, tq, false);
        }
    }
    if (dq_t0 >= 0) {  // the last tile's dQ
        fence_proxy_async_shared();
        __syncthreads();
        flush_dq();
        if (lane == 0) {
            bulk_wait();
        }
    }
    wgmma_fence_operands(dkacc);
    wgmma_fence_operands(dvacc);

    // dK, dV rows of the group's keys: with the whole GQA group, this block alone adds to them
    // (plain loads and stores); else with atomics.
    const int64_t warp_key0 = j0 + kr0 - g;
    const bool alone = parts == 1;
    if (dk != nullptr) {
        float* dst = dk + b * a.dkv_bs + kvh * DH;
        alone ? add_fragment<DH / 8>(dst, a.dkv_rs, warp_key0, a.Tk, dkacc, scale, g, tq, vec_kv)
              : atomic_add_fragment<DH / 8>(dst, a.dkv_rs, warp_key0, a.Tk, dkacc, scale, g, tq,
                                            vec_kv);
    }
    if (dv != nullptr) {
        float* dst = dv + b * a.dkv_bs + kvh * DH;
        alone ? add_fragment<DH / 8>(dst, a.dkv_rs, warp_key0, a.Tk, dvacc, 1.0f, g, tq, vec_kv)
              : atomic_add_fragment<DH / 8>(dst, a.dkv_rs, warp_key0, a.Tk, dvacc, 1.0f, g, tq,
                                            vec_kv);
    }
#else
    __trap();  // launched only where wgmma_attention_available()
#endif
}

}  // namespace

void attention_wgmma_backward_bf16(cudaStream_t stream, const MmaArgs& a, const float* dsum,
                                   float* dq, float* dk, float* dv, int wgmma_heads) {
    // Query heads per block: 2 (or 1 for an odd group), halved while that leaves fewer than 1.5
    // blocks an SM; wgmma_heads overrides. Llama-3-8B's shape (GQA group of 4) at T = 2048 on the
    // H100, B = 1 / B = 2: 1 head a block 0.299 / 0.583 ms, 2 heads 0.278 / 0.551 ms, the whole
    // group (no dK / dV atomics, but the heaviest block holds 4 heads' query tiles) 0.481 / 0.575.
    const int64_t group_heads = a.Hq / a.Hkv, key_blocks = (a.Tk + kKeys - 1) / kKeys;
    int64_t heads = wgmma_heads;
    if (heads != 0 && group_heads % heads != 0) {
        fail(__FILE__, __LINE__, "attention_backward_bf16",
             "set_cuda_attention_wgmma_heads: the heads per block do not divide the GQA group");
    }
    if (heads == 0) {
        heads = group_heads % 2 == 0 ? 2 : 1;
        while (heads % 2 == 0 &&
               2 * a.B * a.Hkv * (group_heads / heads) * key_blocks < 3 * sm_count()) {
            heads /= 2;
        }
    }
    const dim3 grid(static_cast<unsigned>(a.B * a.Hkv * (group_heads / heads)),
                    static_cast<unsigned>(key_blocks));
    QF_CUDA_CHECK(cudaFuncSetAttribute(attn_bwd_wgmma_kernel,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
    auto aligned = [](const float* x) {
        return reinterpret_cast<uintptr_t>(x) % 16 == 0;
    };
    const bool vec_q = aligned(dq) && a.dq_bs % 4 == 0 && a.dq_rs % 4 == 0;
    const bool vec_kv = aligned(dk) && aligned(dv) && a.dkv_bs % 4 == 0 && a.dkv_rs % 4 == 0;
    const CUtensorMap q_map = make_bf16_tile_map(a.q.ptr, a.B, a.T, a.Hq, DH, a.q.bs, a.q.rs, kQ);
    const CUtensorMap o_map =
        make_bf16_tile_map(a.dout.ptr, a.B, a.T, a.Hq, DH, a.dout.bs, a.dout.rs, kQ);
    const CUtensorMap k_map =
        make_bf16_tile_map(a.k.ptr, a.B, a.Tk, a.Hkv, DH, a.k.bs, a.k.rs, kKeys);
    const CUtensorMap v_map =
        make_bf16_tile_map(a.v.ptr, a.B, a.Tk, a.Hkv, DH, a.v.bs, a.v.rs, kKeys);
    attn_bwd_wgmma_kernel<<<grid, kThreads, kSmemBytes, stream>>>(
        a, 1.0f / sqrtf(static_cast<float>(DH)), attn_scale_log2(DH), dsum, dq, dk, dv, vec_q,
        vec_kv, static_cast<int>(heads), q_map, o_map, k_map, v_map);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
