// What is here: the bf16 flash-attention forward on Hopper's warpgroup MMA (wgmma, sm_90a), for
// head_dim 64 and 128 through the bf16 API; attention_mma.cu calls it in place of its mma.sync
// forward where wgmma_attention_available() says the GPU and the build have it.
//
// One block per (128 query rows, head, batch): two warpgroups of 64 rows. 128-key K/V tiles are
// double-buffered by TMA (kernels/cuda/tma.cuh: one thread issues them, an mbarrier per stage says
// they landed) into 128-byte-swizzled shared memory (one block barrier per tile, as in the mma.sync
// kernel). Per tile and warpgroup: S = Q K^T is m64n128k16 wgmma with both operands
// read from shared memory (Q and K K-major), the online softmax runs on the accumulator fragments
// in registers (laid out as mma.sync's, so the masking and rescaling are those of
// attention_mma.cu), and P, packed to bf16 in registers, is the A operand of O += P V (m64n{D}k16,
// V read MN-major). Against mma.sync at 16 rows a warp, a K / V tile is read from shared memory
// once per 64 rows instead of once per 16, which is what bounded the older kernel. Only tiles that
// reach past a warpgroup's first query run the causal mask; a warpgroup skips tiles wholly in its
// future.
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_mma_args.cuh"
#include "kernels/cuda/attention_wgmma.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/mma_ptx.cuh"
#include "kernels/cuda/tma.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kRows = 128;      // query rows per block
constexpr int kGroupRows = 64;  // query rows per warpgroup
constexpr int kKeys = 128;      // keys per tile
constexpr int kThreads = 256;   // two warpgroups
constexpr int kSegTile = 64;    // rows per entry of MmaArgs::seg_tiles

template <int DH>
constexpr uint32_t tile_bytes(int rows) {
    return static_cast<uint32_t>(rows) * DH * 2;
}

// Q, two K and two V stages, two stages of key segment ids, the stages' two mbarriers, and 1 KB
// to align the tiles to 1024.
template <int DH>
constexpr int smem_bytes() {
    return static_cast<int>(tile_bytes<DH>(kRows) + 4 * tile_bytes<DH>(kKeys)) + 2 * kKeys * 4 +
           2 * 8 + 1024;
}

__device__ inline int2 range_union(int2 a, int2 b) {
    return make_int2(min(a.x, b.x), max(a.y, b.y));
}

template <int DH>
__global__ void __launch_bounds__(kThreads, 1)
    attn_fwd_wgmma_kernel(MmaArgs a, float scale_log2, const __grid_constant__ CUtensorMap k_map,
                          const __grid_constant__ CUtensorMap v_map) {
#if QF_HAS_WGMMA
    constexpr int ND = DH / 8;   // 8-column tiles of O
    constexpr int KD = DH / 16;  // k-steps of S over D
    constexpr int NS = kKeys / 8;
    constexpr uint32_t kQBytes = tile_bytes<DH>(kRows), kKvBytes = tile_bytes<DH>(kKeys);
    extern __shared__ __align__(128) unsigned char smem_raw[];
    const uint32_t raw = smem_addr(smem_raw);
    const uint32_t sQ = (raw + 1023u) & ~1023u;
    const uint32_t sK = sQ + kQBytes, sV = sK + 2 * kKvBytes;
    auto* sSeg = reinterpret_cast<int32_t*>(smem_raw + (sV + 2 * kKvBytes - raw));  // [2][kKeys]
    const uint32_t sBar = sV + 2 * kKvBytes + 2 * kKeys * 4;  // a stage's K and V have landed

    const int tid = static_cast<int>(threadIdx.x);
    const int lane = tid % 32, warp = tid / 32;
    const int group = warp / 4, gw = warp % 4;  // warpgroup, warp in it
    const int g = lane / 4, tq = lane % 4;
    const int64_t bh = blockIdx.x;
    const int64_t b = bh / a.Hq, h = bh % a.Hq;
    const int64_t kvh = h / (a.Hq / a.Hkv);
    const int64_t t0 = (gridDim.y - 1 - blockIdx.y) * static_cast<int64_t>(kRows);
    const int64_t t_last = (t0 + kRows < a.T ? t0 + kRows : a.T) - 1;
    const int64_t kend = a.q_pos0 + t_last + 1;  // keys seen by this block
    const int n_tiles = static_cast<int>((kend + kKeys - 1) / kKeys);
    const int32_t* seg = a.seg != nullptr ? a.seg + b * a.T : nullptr;

    // This warpgroup's rows: gt0 .. gt0 + 63; a group wholly past T only joins loads and barriers.
    const int64_t gt0 = t0 + group * kGroupRows;
    const bool group_live = gt0 < a.T;
    const int64_t gpos0 = a.q_pos0 + gt0;

    // Segment-id ranges (64-row entries): a key tile, the block's and the group's queries. Key
    // tiles that meet none of the block's ids are not loaded; a group skips those that miss its
    // own.
    const int64_t n_seg = (a.T + kSegTile - 1) / kSegTile;
    const int2* rng = a.seg_tiles != nullptr ? a.seg_tiles + b * n_seg : nullptr;
    auto range_of = [&](int64_t row0) {  // rows row0 .. row0 + 127 (< T)
        const int64_t i = row0 / kSegTile;
        return i + 1 < n_seg ? range_union(rng[i], rng[i + 1]) : rng[i];
    };
    const int2 block_qr = rng != nullptr ? range_of(t0) : make_int2(0, 0);
    const int2 group_qr = rng != nullptr && group_live ? rng[gt0 / kSegTile] : make_int2(0, 0);
    auto next_tile = [&](int j) {
        while (rng != nullptr && j < n_tiles &&
               !ranges_meet(range_of(int64_t{j} * kKeys), block_qr)) {
            ++j;
        }
        return j;
    };
    // A K / V tile comes by TMA, issued by thread 0 (keys past the block's last query may be
    // loaded: the mask hides them). With cp.async from every thread, the loads' issue and address
    // arithmetic took an eighth of the kernel's stall samples (ncu).
    auto load_kv = [&](int j, int buf) {
        if (tid == 0) {
            tma_load_tile_pair<DH, kKeys>(sK + buf * kKvBytes, &k_map, sV + buf * kKvBytes, &v_map,
                                          static_cast<int>(kvh), j * kKeys, static_cast<int>(b),
                                          sBar + buf * 8);
        }
        if (seg != nullptr && tid < kKeys) {
            const int64_t key = int64_t{j} * kKeys + tid;
            sSeg[buf * kKeys + tid] = key < a.T ? seg[key] : -1;
        }
    };
    load_tile_sw128<DH, kRows, kThreads>(sQ, a.q.ptr + b * a.q.bs + h * DH, a.q.rs, t0, a.T);
    cp_async_commit();
    if (tid == 0) {
        mbar_init(sBar, 1);
        mbar_init(sBar + 8, 1);
        mbar_init_fence();
    }
    __syncthreads();
    int jn = next_tile(0);  // the next tile to visit (the block's diagonal tile always is)
    if (jn < n_tiles) {
        load_kv(jn, 0);
    }

    // This thread's rows: row0 and row0 + 8.
    const int64_t row0 = gt0 + gw * 16 + g;
    const int64_t wpos0 = gpos0 + gw * 16;  // the warp's first query position
    int32_t qseg[2] = {0, 0};
    if (seg != nullptr) {
        qseg[0] = row0 < a.T ? seg[row0] : -2;
        qseg[1] = row0 + 8 < a.T ? seg[row0 + 8] : -2;
    }

    float o[ND * 4];
#pragma unroll
    for (int i = 0; i < ND * 4; i++) {
        o[i] = 0.0f;
    }
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};  // row max (raw scores), sum
    const uint32_t q_base = sQ + group * kGroupRows * kSw128RowBytes;

    for (int it = 0, j = jn; j < n_tiles; it++, j = jn) {
        jn = next_tile(j + 1);
        cp_async_wait<0>();  // Q
        mbar_wait(sBar + (it % 2) * 8, (it / 2) & 1);
        fence_proxy_async_shared();
        __syncthreads();  // tile j is in for everyone, every group is done with tile j - 1's
                          // buffers
        if (jn < n_tiles) {
            load_kv(jn, (it + 1) % 2);
        }
        const int64_t k0 = int64_t{j} * kKeys;
        if (!group_live || k0 > gpos0 + kGroupRows - 1 ||
            (rng != nullptr && !ranges_meet(range_of(k0), group_qr))) {
            continue;  // every key of the tile is in the future of (or apart from) the group's rows
        }
        const uint32_t k_s = sK + (it % 2) * kKvBytes, v_s = sV + (it % 2) * kKvBytes;
        const int32_t* seg_s = sSeg + (it % 2) * kKeys;
        const bool one_seg = rng != nullptr && one_segment(range_of(k0), group_qr);

        float s[NS * 4];
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
            const uint32_t col = (kk % 4) * 32;  // bytes into a 64-column block
            const uint64_t dq = wgmma_desc_sw128(q_base + (kk / 4) * kRows * kSw128RowBytes + col,
                                                 16, kSw128AtomBytes);
            const uint64_t dk = wgmma_desc_sw128(k_s + (kk / 4) * kKeys * kSw128RowBytes + col, 16,
                                                 kSw128AtomBytes);
            wgmma_m64n128k16_ss(s, dq, dk, kk > 0 ? 1 : 0);
        }
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operands(s);

        // Fragment (n, e) of s: row row0 + 8 (e / 2), key k0 + 8 n + 2 tq + (e % 2).
        const bool need_mask = (seg != nullptr && !one_seg) || k0 + kKeys - 1 > wpos0;
        const int wrel = static_cast<int>(wpos0 - k0);  // tile column of the warp's first query
        if (need_mask) {                                // outside the loops (see attention_mma.cu)
#pragma unroll
            for (int n = 0; n < NS; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int kc = n * 8 + 2 * tq + (e & 1);
                    const int r = e / 2;
                    const bool vis =
                        kc <= wrel + g + 8 * r && (seg == nullptr || seg_s[kc] == qseg[r]);
                    s[n * 4 + e] = vis ? s[n * 4 + e] : -INFINITY;
                }
            }
        }
        float mx[2] = {m[0], m[1]};  // raw scores: scale_log2 is folded into the exp2 FMAs
#pragma unroll
        for (int n = 0; n < NS; n++) {
            mx[0] = fmaxf(mx[0], fmaxf(s[n * 4], s[n * 4 + 1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[n * 4 + 2], s[n * 4 + 3]));
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
            o[n * 4] *= alpha[0];
            o[n * 4 + 1] *= alpha[0];
            o[n * 4 + 2] *= alpha[1];
            o[n * 4 + 3] *= alpha[1];
        }
        uint32_t pa[kKeys / 16][4];  // P as the A operand: k-step kk covers keys 16 kk .. + 15
#pragma unroll
        for (int n = 0; n < NS; n++) {
            const float p0 = fast_exp2(fmaf(s[n * 4], scale_log2, -mu[0]));
            const float p1 = fast_exp2(fmaf(s[n * 4 + 1], scale_log2, -mu[0]));
            const float p2 = fast_exp2(fmaf(s[n * 4 + 2], scale_log2, -mu[1]));
            const float p3 = fast_exp2(fmaf(s[n * 4 + 3], scale_log2, -mu[1]));
            l[0] += p0 + p1;
            l[1] += p2 + p3;
            pa[n / 2][(n % 2) * 2] = pack_bf16(p0, p1);
            pa[n / 2][(n % 2) * 2 + 1] = pack_bf16(p2, p3);
        }
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kKeys / 16; kk++) {
            // V rows (keys) 16 kk .. + 15, all D columns: MN-major, column blocks kKeys rows apart.
            const uint64_t dv = wgmma_desc_sw128(v_s + kk * 16 * kSw128RowBytes,
                                                 kKeys * kSw128RowBytes, kSw128AtomBytes);
            if constexpr (DH == 128) {
                wgmma_m64n128k16_rs_mn(o, pa[kk], dv);
            } else {
                wgmma_m64n64k16_rs_mn(o, pa[kk], dv);
            }
        }
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operands(o);
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        const int64_t t = row0 + 8 * r;
        if (t < a.T && a.lse != nullptr && tq == 0) {
            a.lse[(b * a.Hq + h) * a.T + t] = (m[r] * scale_log2 + log2f(l[r])) * kLn2;
        }
    }
    // 4 consecutive columns of one row per lane (quad_row4): 8-byte bf16 stores.
    const int64_t t = row0 + quad_row(tq);
    const float lr = (tq & 1) != 0 ? l[1] : l[0];
    const float inv = lr > 0.0f ? 1.0f / lr : 0.0f;
    const int64_t off = b * a.out_bs + t * a.out_rs + h * DH + 2 * (tq & ~1);
#pragma unroll
    for (int n = 0; n < ND; n++) {
        const float4 x = quad_row4(o[n * 4], o[n * 4 + 1], o[n * 4 + 2], o[n * 4 + 3], tq);
        if (t < a.T) {
            const uint2 u =
                make_uint2(pack_bf16(x.x * inv, x.y * inv), pack_bf16(x.z * inv, x.w * inv));
            *reinterpret_cast<uint2*>(static_cast<__nv_bfloat16*>(a.out) + off + n * 8) = u;
        }
    }
#else
    __trap();  // launched only where wgmma_attention_available()
#endif
}

// 1 in the device code of an sm_90a build, where the kernel above is real.
__device__ int g_wgmma_built = QF_HAS_WGMMA;

}  // namespace

bool wgmma_attention_available() {
    static const bool available = [] {
        int dev = 0;
        cudaDeviceProp prop{};
        QF_CUDA_CHECK(cudaGetDevice(&dev));
        QF_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
        if (prop.major != 9 || prop.minor != 0) {
            return false;
        }
        int built = 0;
        QF_CUDA_CHECK(cudaMemcpyFromSymbol(&built, g_wgmma_built, sizeof(built)));
        return built == 1;
    }();
    return available;
}

void attention_wgmma_forward_bf16(cudaStream_t stream, const MmaArgs& a, int64_t D) {
    const dim3 grid(static_cast<unsigned>(a.B * a.Hq),
                    static_cast<unsigned>((a.T + kRows - 1) / kRows));
    const CUtensorMap k_map =
        make_bf16_tile_map(a.k.ptr, a.B, a.Tk, a.Hkv, D, a.k.bs, a.k.rs, kKeys);
    const CUtensorMap v_map =
        make_bf16_tile_map(a.v.ptr, a.B, a.Tk, a.Hkv, D, a.v.bs, a.v.rs, kKeys);
    auto launch = [&](auto kernel, int smem, int64_t D) {
        QF_CUDA_CHECK(
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
        kernel<<<grid, kThreads, smem, stream>>>(a, attn_scale_log2(D), k_map, v_map);
        QF_CUDA_LAUNCH_CHECK();
    };
    if (D == 64) {
        launch(attn_fwd_wgmma_kernel<64>, smem_bytes<64>(), 64);
    } else {
        launch(attn_fwd_wgmma_kernel<128>, smem_bytes<128>(), 128);
    }
}

}  // namespace qforge::kernels::cuda
