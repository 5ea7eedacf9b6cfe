// What is here: lora_dy_products (kernels/lora_grad.h): dU = dy sB and dB += s dy^T u from one
// pass over dy, on mma.sync bf16 tensor cores.
//
// A block owns a region of dy: a run of 64-token blocks times up to 4 column tiles of 128 (fewer
// at R > 16). The region's rows of sB stay in shared memory; its 64 x 128 tiles of dy stream
// through a ring of stages (cp.async), each token block's rows of u with its first tile, and
// every tile feeds both products:
//   dB: warp w sums the tile's columns [16 w, 16 w + 16) times u over the 64 tokens, kept in
//       registers over the whole region (32 floats a thread at most), added to dB once at the end;
//   dU: the 64 x R partial sum of the token block over the region's columns (4 warps along the
//       tokens, 2 along R, or along the columns at R = 8), added to the fp32 dU when the block's
//       last column tile is done.
// The atomics cost ~6% of dy's bytes at Llama-3-8B's gate projection; two thin cuBLASLt GEMMs
// read dy twice. The fp32 dU is then rounded into the bf16 rows the input-gradient GEMM reads.
#include <algorithm>
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/dense.h"
#include "kernels/cuda/device_info.cuh"
#include "kernels/cuda/mma_ptx.cuh"
#include "kernels/cuda/pointwise.h"

namespace qforge::kernels::cuda {
namespace {

constexpr int kTokens = 64;      // rows of dy in a tile
constexpr int kCols = 128;       // columns of dy in a tile
constexpr int kThreads = 256;    // 8 warps
constexpr int kYLd = kCols + 8;  // bf16 a shared dy row: rows 16 bytes apart mod 128 bytes, so
                                 // the 8 rows of an ldmatrix hit distinct banks

template <int R>
struct Tiles {
    static constexpr int kNt = R / 8;                          // mma n-tiles along R
    static constexpr int kRegionTiles = R <= 16 ? 4 : 64 / R;  // column tiles of a region
    // dy tiles in flight, as many as two blocks an SM leave room for (one block at R = 64)
    static constexpr int kStages = R == 32 ? 3 : 4;
    // u rows of the token blocks of the tiles in flight: one slot a stage (a region of one
    // column tile has each of its tiles in another token block)
    static constexpr int kUSlots = kStages;
    static constexpr int kSbLd = R == 8 ? 24 : R + 8;  // bf16 a shared sB row (conflict-free)
    static constexpr int kULd = R + 4;                 // floats a shared u row (conflict-free)
    static constexpr int kSbBytes = kRegionTiles * kCols * kSbLd * 2;
    static constexpr int kUBytes = kTokens * kULd * 4;
    static constexpr int kYBytes = kTokens * kYLd * 2;
    static constexpr int kSmem = kSbBytes + kUSlots * kUBytes + kStages * kYBytes;
    // dU's split of the 8 warps: 4 along the tokens times 2 along R, or along the columns at R = 8
    static constexpr int kWarpNt = kNt >= 2 ? kNt / 2 : 1;
    static constexpr int kWarpKs = kNt >= 2 ? kCols / 16 : kCols / 32;
    static_assert(kSbBytes % 16 == 0 && kUBytes % 16 == 0 && kYBytes % 16 == 0,
                  "shared arrays must stay 16-byte aligned");
};

struct LoraDyArgs {
    const uint16_t* dy;
    const uint16_t* sb;
    const float* u;
    int64_t ld_u;
    float* du;
    float* dB;
    int64_t ld_dy, ld_sb;
    int N, Out;
    float scale;
    int blocks_per_cta;  // 64-token blocks of a block's region
};

template <int R>
__global__ void __launch_bounds__(kThreads) lora_dy_kernel(LoraDyArgs a) {
    using S = Tiles<R>;
    extern __shared__ __align__(16) unsigned char smem[];
    const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
    const int g = lane / 4, t = lane % 4;
    const int col0 = static_cast<int>(blockIdx.x) * S::kRegionTiles * kCols;
    const int ncol_tiles = min(S::kRegionTiles, (a.Out - col0 + kCols - 1) / kCols);
    const int block0 = static_cast<int>(blockIdx.y) * a.blocks_per_cta;
    const int nblocks = min(a.blocks_per_cta, (a.N + kTokens - 1) / kTokens - block0);
    const int total = nblocks * ncol_tiles;

    unsigned char* const sb_smem = smem;
    unsigned char* const u_smem = smem + S::kSbBytes;
    unsigned char* const y_smem = u_smem + S::kUSlots * S::kUBytes;
    // the region's rows of sB, once (in the first tile's group)
    for (int id = static_cast<int>(threadIdx.x); id < S::kRegionTiles * kCols * R / 8;
         id += kThreads) {
        const int row = id / (R / 8), ch = id % (R / 8);
        const bool ok = col0 + row < a.Out;
        cp_async16(sb_smem + (row * S::kSbLd + ch * 8) * 2,
                   ok ? a.sb + static_cast<int64_t>(col0 + row) * a.ld_sb + ch * 8 : a.sb, ok);
    }
    auto load = [&](int i) {
        const int block = block0 + i / ncol_tiles;
        const int tok0 = block * kTokens;
        const int c0 = col0 + (i % ncol_tiles) * kCols;
        const uint32_t ys = smem_addr(y_smem + (i % S::kStages) * S::kYBytes);
#pragma unroll
        for (int k = 0; k < kTokens * kCols / 8 / kThreads; ++k) {
            const int id = static_cast<int>(threadIdx.x) + k * kThreads;
            const int row = id / (kCols / 8), ch = id % (kCols / 8);
            const bool ok = tok0 + row < a.N && c0 + ch * 8 < a.Out;
            cp_async16(ys + (row * kYLd + ch * 8) * 2,
                       ok ? a.dy + static_cast<int64_t>(tok0 + row) * a.ld_dy + c0 + ch * 8 : a.dy,
                       ok);
        }
        if (i % ncol_tiles != 0) {
            return;
        }
        // a token block's first tile brings its u; the slot's last reader, the block kUSlots
        // blocks back, is done (the tiles in flight span at most kStages blocks)
        const uint32_t us = smem_addr(u_smem + (block % S::kUSlots) * S::kUBytes);
        for (int id = static_cast<int>(threadIdx.x); id < kTokens * R / 4; id += kThreads) {
            const int row = id / (R / 4), ch = id % (R / 4);
            const bool ok = tok0 + row < a.N;
            cp_async16(us + (row * S::kULd + ch * 4) * 4,
                       ok ? a.u + static_cast<int64_t>(tok0 + row) * a.ld_u + ch * 4 : a.u, ok);
        }
    };

    // dB += Y^T u for this warp's 16 columns: A = Y^T (ldmatrix.trans of the token-major tile),
    // B = u, rounded to bf16 as its fragments are built from the fp32 rows.
    auto sum_db = [&](float(&acc)[S::kNt][4], uint32_t ys, const float* us) {
        const int m = lane / 8, rr = lane % 8;
#pragma unroll
        for (int kk = 0; kk < kTokens / 16; ++kk) {
            uint32_t af[4];
            ldmatrix_x4_trans(
                af, ys + ((kk * 16 + (m >> 1) * 8 + rr) * kYLd + warp * 16 + (m & 1) * 8) * 2);
#pragma unroll
            for (int n = 0; n < S::kNt; ++n) {
                const float* u0 = us + (kk * 16 + 2 * t) * S::kULd + n * 8 + g;
                mma_bf16(acc[n], af, pack_bf16(u0[0], u0[S::kULd]),
                         pack_bf16(u0[8 * S::kULd], u0[9 * S::kULd]));
            }
        }
    };

    float acc_b[S::kRegionTiles][S::kNt][4] = {};
    float acc_u[S::kWarpNt][4] = {};
    const int mt = warp % 4, half = warp / 4;
    const int nt0 = S::kNt >= 2 ? half * S::kWarpNt : 0;
    const int ks0 = S::kNt >= 2 ? 0 : half * S::kWarpKs;

#pragma unroll
    for (int i = 0; i < S::kStages - 1; ++i) {
        if (i < total) {
            load(i);
        }
        cp_async_commit();
    }
    for (int i = 0; i < total; ++i) {
        cp_async_wait<S::kStages - 2>();
        __syncthreads();  // tile i is in; every warp is done with the stage refilled below
        if (i + S::kStages - 1 < total) {
            load(i + S::kStages - 1);
        }
        cp_async_commit();
        const uint32_t ys = smem_addr(y_smem + (i % S::kStages) * S::kYBytes);
        const float* us = reinterpret_cast<const float*>(
            u_smem + ((block0 + i / ncol_tiles) % S::kUSlots) * S::kUBytes);
        const int ct = i % ncol_tiles;
        const uint32_t sbs = smem_addr(sb_smem + ct * kCols * S::kSbLd * 2);
#pragma unroll
        for (int c = 0; c < S::kRegionTiles; ++c) {
            if (c == ct) {  // registers are indexed at compile time only
                sum_db(acc_b[c], ys, us);
            }
        }
        // dU partial: A = this warp's 16 tokens of the tile, B = sB (ldmatrix.trans: K x N rows)
        {
            const int m = lane / 8, rr = lane % 8;
#pragma unroll
            for (int kq = 0; kq < S::kWarpKs; ++kq) {
                const int kk = ks0 + kq;
                uint32_t af[4];
                ldmatrix_x4(
                    af, ys + ((mt * 16 + (m & 1) * 8 + rr) * kYLd + kk * 16 + (m >> 1) * 8) * 2);
#pragma unroll
                for (int n = 0; n < S::kWarpNt; ++n) {
                    uint32_t bf[2];
                    ldmatrix_x2_trans(bf,
                                      sbs + ((kk * 16 + lane % 16) * S::kSbLd + (nt0 + n) * 8) * 2);
                    mma_bf16(acc_u[n], af, bf[0], bf[1]);
                }
            }
        }
        if (ct == ncol_tiles - 1) {  // the token block's last tile: its dU partial out
            const int tok = (block0 + i / ncol_tiles) * kTokens + mt * 16 + quad_row(t) + g;
#pragma unroll
            for (int n = 0; n < S::kWarpNt; ++n) {
                const float4 v = quad_row4(acc_u[n][0], acc_u[n][1], acc_u[n][2], acc_u[n][3], t);
                if (tok < a.N) {
                    atomic_add4(a.du + static_cast<int64_t>(tok) * R + (nt0 + n) * 8 + 2 * (t & ~1),
                                v);
                }
                acc_u[n][0] = acc_u[n][1] = acc_u[n][2] = acc_u[n][3] = 0.0f;
            }
        }
    }
    cp_async_wait<0>();
    if (total == 0) {
        return;
    }
#pragma unroll
    for (int c = 0; c < S::kRegionTiles; ++c) {
        if (c >= ncol_tiles) {
            break;
        }
        const int col = col0 + c * kCols + warp * 16 + quad_row(t) + g;
#pragma unroll
        for (int n = 0; n < S::kNt; ++n) {
            float4 v = quad_row4(acc_b[c][n][0], acc_b[c][n][1], acc_b[c][n][2], acc_b[c][n][3], t);
            v.x *= a.scale;
            v.y *= a.scale;
            v.z *= a.scale;
            v.w *= a.scale;
            if (col < a.Out) {
                atomic_add4(a.dB + static_cast<int64_t>(col) * R + n * 8 + 2 * (t & ~1), v);
            }
        }
    }
}

template <int R>
void launch(cudaStream_t stream, LoraDyArgs a) {
    using S = Tiles<R>;
    const int regions = (a.Out + S::kRegionTiles * kCols - 1) / (S::kRegionTiles * kCols);
    const int blocks = (a.N + kTokens - 1) / kTokens;
    // one wave: as many blocks as the SMs hold (two fit an SM's shared memory up to R = 32); a
    // second, partial wave would run its few blocks alone at a fraction of the bandwidth
    const int slots = sm_count() * (R <= 32 ? 2 : 1);
    const int split = std::clamp(slots / regions, 1, blocks);
    a.blocks_per_cta = (blocks + split - 1) / split;
    const int grid_y = (blocks + a.blocks_per_cta - 1) / a.blocks_per_cta;
    QF_CUDA_CHECK(cudaFuncSetAttribute(lora_dy_kernel<R>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, S::kSmem));
    lora_dy_kernel<R><<<dim3(static_cast<unsigned>(regions), static_cast<unsigned>(grid_y)),
                        kThreads, S::kSmem, stream>>>(a);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace

void lora_dy_products(void* stream, const uint16_t* dy, int64_t ld_dy, const uint16_t* sb,
                      int64_t ld_sb, const float* u, int64_t ld_u, int64_t N, int64_t Out,
                      int64_t R, float scale, float* du, uint16_t* du_bf16, int64_t ld_du,
                      float* dB) {
    auto* s = static_cast<cudaStream_t>(stream);
    QF_CUDA_CHECK(cudaMemsetAsync(du, 0, sizeof(float) * static_cast<size_t>(N * R), s));
    const LoraDyArgs a{
        dy,    sb, u, ld_u, du, dB, ld_dy, ld_sb, static_cast<int>(N), static_cast<int>(Out),
        scale, 0};
    switch (R) {
        case 8:
            launch<8>(s, a);
            break;
        case 16:
            launch<16>(s, a);
            break;
        case 32:
            launch<32>(s, a);
            break;
        default:
            launch<64>(s, a);
            break;
    }
    if (du_bf16 != nullptr) {  // the rounding convert_to_bf16 does (RNE, scale 1 is exact)
        convert_to_bf16(stream, du_bf16, ld_du, du, R, N, R, 1.0f);
    }
}

}  // namespace qforge::kernels::cuda
