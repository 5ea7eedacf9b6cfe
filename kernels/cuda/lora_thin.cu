// What is here: the thin LoRA kernels (kernels/lora_thin.h) on bf16 tensor cores
// (mma.sync.m16n8k16, fp32 accumulators), built to read their big operand once at HBM speed.
//   lora_down: v (N, R) = alpha x (N, K) w^T. A block takes 128 rows of x and one split of K;
//     each warp 32 rows (two m16 tiles) and every R column (NT n8 tiles). x goes straight from
//     global memory into A fragments: the sum over k may visit k in any order, so each lane loads
//     8 consecutive k (16 bytes) of its rows g and g + 8, and the B fragments (w, staged once per
//     block in shared memory as ready-made lane chunks) use the same order.
//   lora_grad: out (R, M) += alpha d^T x, d (N, R), x (N, M). A block takes 128 columns of x and
//     one split of N; each warp 32 columns (two m16 tiles of x^T) and every R column. x streams
//     through a 4-stage cp.async pipeline of 32-row tiles; ldmatrix.trans turns them (and d,
//     staged once) into fragments.
// With more than one split, every block writes its fp32 partial sums to scratch; the last block
// of a tile to arrive (an atomic counter per tile, reset by that block) adds the partials in split
// order and writes the outputs, so the result does not depend on which block finishes first.
// R > 64 goes to cuBLASLt (gemm_bf16).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/dense.h"
#include "kernels/cuda/lora_thin.h"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/scratch.h"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 128;  // four warps
constexpr int kTile = 128;     // rows of x (lora_down) or columns of x (lora_grad) per block
constexpr int kDownStep = 2;   // lora_down: 32-wide k groups a warp loads ahead of its mmas
constexpr int kGradBk = 32;    // lora_grad: rows of x per pipeline stage
constexpr int kStages = 6;
constexpr int kXsStride = kTile + 8;  // shared row stride of an x stage: 272 bytes, no conflicts
constexpr int kXsElems = kStages * kGradBk * kXsStride;

// ---- device helpers --------------------------------------------------------------------------

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Four 8x8 b16 matrices, transposed; lane l gives the address of row l % 8 of matrix l / 8.
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const uint16_t* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}

// c += A (16x16, row) B (16x8, col); a0..a3 and b0, b1 as the PTX fragment layout.
__device__ __forceinline__ void mma_16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                          uint32_t a3, uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// 16 bytes to shared memory; only `bytes` (0..16) are read, the rest is zero-filled.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
                 "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// row[k .. k + 8) as 8 bf16 (zeros at and past `end`); kVec: one 16-byte load when all 8 are in
// range (row + k must then be 16-byte aligned).
template <bool kVec>
__device__ __forceinline__ uint4 load8(const uint16_t* row, int64_t k, int64_t end) {
    if (kVec && k + 8 <= end) {
        return __ldg(reinterpret_cast<const uint4*>(row + k));
    }
    uint32_t h[8];
#pragma unroll
    for (int e = 0; e < 8; e++) {
        h[e] = k + e < end ? row[k + e] : 0u;
    }
    return make_uint4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16),
                      h[6] | (h[7] << 16));
}

__device__ __forceinline__ uint16_t bf16_bits(float v) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(v));
}

// A copy of `total` items into shared memory, kBatch loads in flight per thread: load(c) and
// store(c, value) for c = threadIdx.x + i * kThreads.
template <int kBatch = 8, typename Load, typename Store>
__device__ __forceinline__ void staged_copy(int total, Load load, Store store) {
    using T = decltype(load(0));
    for (int base = static_cast<int>(threadIdx.x); base < total; base += kThreads * kBatch) {
        T v[kBatch];
#pragma unroll
        for (int u = 0; u < kBatch; u++) {
            const int c = base + u * kThreads;
            v[u] = c < total ? load(c) : T{};
        }
#pragma unroll
        for (int u = 0; u < kBatch; u++) {
            const int c = base + u * kThreads;
            if (c < total) {
                store(c, v[u]);
            }
        }
    }
}

__host__ __device__ __forceinline__ bool aligned16(const void* p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// The split-sum protocol shared by both kernels. Each thread holds acc[kVals] at fixed places
// `slot(i)` of its block's tile ([kTile][RP] floats per split). Returns false in every block but
// the last of the tile to arrive; that one gets the sum of all splits, in split order, in acc.
template <int kVals, typename Slot>
__device__ __forceinline__ bool reduce_splits(float (&acc)[kVals], float* partials,
                                              unsigned* counters, int splits, int tile_floats,
                                              Slot slot) {
    if (splits == 1) {
        return true;
    }
    __shared__ unsigned last;
    const size_t tile = blockIdx.x, split = blockIdx.y;
    float* mine = partials + (split * gridDim.x + tile) * static_cast<size_t>(tile_floats);
#pragma unroll
    for (int i = 0; i < kVals; i++) {
        mine[slot(i)] = acc[i];
    }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        last = atomicAdd(&counters[tile], 1u) == static_cast<unsigned>(splits - 1) ? 1u : 0u;
    }
    __syncthreads();
    if (last == 0u) {
        return false;
    }
    __threadfence();
#pragma unroll
    for (int i = 0; i < kVals; i++) {
        acc[i] = 0.0f;
    }
    for (int s = 0; s < splits; s++) {
        const float* p = partials + (static_cast<size_t>(s) * gridDim.x + tile) *
                                        static_cast<size_t>(tile_floats);
#pragma unroll
        for (int i = 0; i < kVals; i++) {
            acc[i] += __ldcg(p + slot(i));
        }
    }
    if (threadIdx.x == 0) {
        counters[tile] = 0u;  // ready for the next launch on this stream
    }
    return true;
}

// ---- lora_down -------------------------------------------------------------------------------

struct DownArgs {
    const uint16_t* x;
    int64_t ldx;
    const uint16_t* w;
    int64_t wsr, wsk;
    float* y;
    int64_t ldy;
    uint16_t* y16;
    int64_t ldy16;
    float* partials;
    unsigned* counters;
    int64_t N, K, kc;  // kc: k per split, a multiple of 32 * kDownStep
    int R, splits;
    float alpha;
    bool w_vec;  // w_stride_k == 1, rows 16-byte aligned: w staged with 16-byte loads
};

// Thread mapping: lane (g = lane / 4, t = lane % 4) of warp wp holds rows row0 + 32 wp + 16 mt + g
// (+ 8) and, per 32-wide k group, k = 8 t .. 8 t + 7 of it; its accumulators are columns
// 8 nt + 2 t (+ 1). NT: R padded to 8 NT.
template <int NT, bool kVec>
__global__ void __launch_bounds__(kThreads) lora_down_kernel(DownArgs a) {
    extern __shared__ uint4 wf[];  // [k group][NT][lane]: lane's 8 k of column 8 nt + g
    constexpr int RP = NT * 8;
    const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTile;
    const int64_t kbeg = static_cast<int64_t>(blockIdx.y) * a.kc;
    const int64_t kend = min(a.K, kbeg + a.kc);
    const int groups = kend > kbeg ? static_cast<int>((kend - kbeg + 31) / 32) : 0;

    const uint16_t* xr[2][2];  // [mt][row g, row g + 8]; nullptr past N
#pragma unroll
    for (int mt = 0; mt < 2; mt++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int64_t row = row0 + warp * 32 + mt * 16 + h * 8 + g;
            xr[mt][h] = row < a.N ? a.x + row * a.ldx : nullptr;
        }
    }
    // x of the 32-wide groups gi .. gi + kDownStep (zeros past the split or N)
    auto load_x = [&](uint4(&xv)[kDownStep][2][2], int gi) {
#pragma unroll
        for (int q = 0; q < kDownStep; q++) {
            const int64_t k = kbeg + (gi + q) * 32 + 8 * t;
#pragma unroll
            for (int mt = 0; mt < 2; mt++) {
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    xv[q][mt][h] = xr[mt][h] != nullptr && gi + q < groups
                                       ? load8<kVec>(xr[mt][h], k, kend)
                                       : make_uint4(0u, 0u, 0u, 0u);
                }
            }
        }
    };
    uint4 cur[kDownStep][2][2];
    load_x(cur, 0);  // in flight while w is staged

    if (a.wsk == 1) {  // A rows: 8 consecutive k of one w row per chunk
        const int chunks = groups * 4;
        staged_copy(
            RP * chunks,
            [&](int c) {
                const int j = c / chunks, q = c % chunks;
                if (j >= a.R) {
                    return make_uint4(0u, 0u, 0u, 0u);
                }
                const uint16_t* wr = a.w + j * a.wsr;
                return a.w_vec ? load8<true>(wr, kbeg + 8 * q, kend)
                               : load8<false>(wr, kbeg + 8 * q, kend);
            },
            [&](int c, uint4 v) {
                const int j = c / chunks, q = c % chunks;
                wf[((q >> 2) * NT + (j >> 3)) * 32 + (j & 7) * 4 + (q & 3)] = v;
            });
    } else if (a.wsr == 1) {  // sB columns: 8 consecutive j of one k per chunk
        auto* wh = reinterpret_cast<uint16_t*>(wf);
        const bool vec = aligned16(a.w) && a.wsk % 8 == 0;
        staged_copy(
            groups * 32 * NT,
            [&](int c) {
                const int jq = c % NT;
                const int64_t k = kbeg + c / NT;
                if (k >= kend) {
                    return make_uint4(0u, 0u, 0u, 0u);
                }
                const uint16_t* wk = a.w + k * a.wsk;
                return vec ? load8<true>(wk, 8 * jq, a.R) : load8<false>(wk, 8 * jq, a.R);
            },
            [&](int c, uint4 v) {
                const int jq = c % NT, kk = c / NT, grp = kk >> 5, in = kk & 31;
                uint16_t* dst = wh + (((grp * NT + jq) * 32 + (in >> 3)) << 3) + (in & 7);
                const uint32_t h[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
                for (int e = 0; e < 8; e++) {  // column 8 jq + e: lane e * 4 + (in >> 3)
                    dst[e * 32] = static_cast<uint16_t>(h[e >> 1] >> (16 * (e & 1)));
                }
            });
    } else {  // any strides: one value at a time
        auto* wh = reinterpret_cast<uint16_t*>(wf);
        staged_copy(
            groups * 32 * RP,
            [&](int e) {
                const int j = e % RP;
                const int64_t k = kbeg + e / RP;
                return j < a.R && k < kend ? a.w[j * a.wsr + k * a.wsk] : uint16_t{0};
            },
            [&](int e, uint16_t v) {
                const int j = e % RP, kk = e / RP, grp = kk >> 5, in = kk & 31;
                wh[(((grp * NT + (j >> 3)) * 32 + (j & 7) * 4 + (in >> 3)) << 3) + (in & 7)] = v;
            });
    }
    __syncthreads();

    float acc[2][NT][4] = {};
    for (int gi = 0; gi < groups; gi += kDownStep) {
        uint4 nxt[kDownStep][2][2];
        load_x(nxt, gi + kDownStep);  // the next groups' loads overlap these mmas
#pragma unroll
        for (int q = 0; q < kDownStep; q++) {
            if (gi + q >= groups) {
                break;
            }
            uint4 b[NT];
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                b[nt] = wf[((gi + q) * NT + nt) * 32 + lane];
            }
#pragma unroll
            for (int mt = 0; mt < 2; mt++) {
                const uint4 lo = cur[q][mt][0], hi = cur[q][mt][1];
#pragma unroll
                for (int nt = 0; nt < NT; nt++) {
                    // k 8t, 8t+1 | 8t+2, 8t+3 play the roles of 2t, 2t+1 | 2t+8, 2t+9 ...
                    mma_16816(acc[mt][nt], lo.x, hi.x, lo.y, hi.y, b[nt].x, b[nt].y);
                    // ... and 8t+4 .. 8t+7 those of the second k16 step.
                    mma_16816(acc[mt][nt], lo.z, hi.z, lo.w, hi.w, b[nt].z, b[nt].w);
                }
            }
        }
#pragma unroll
        for (int q = 0; q < kDownStep; q++) {
#pragma unroll
            for (int mt = 0; mt < 2; mt++) {
                cur[q][mt][0] = nxt[q][mt][0];
                cur[q][mt][1] = nxt[q][mt][1];
            }
        }
    }

    float* flat = &acc[0][0][0];
    float(&vals)[2 * NT * 4] = *reinterpret_cast<float(*)[2 * NT * 4]>(flat);
    // value i = (mt, nt, c): local row 32 wp + 16 mt + g + 8 (c / 2), column 8 nt + 2 t + c % 2
    auto slot = [&](int i) {
        const int mt = i / (NT * 4), nt = (i / 4) % NT, c = i % 4;
        return (warp * 32 + mt * 16 + g + 8 * (c >> 1)) * RP + nt * 8 + 2 * t + (c & 1);
    };
    if (!reduce_splits(vals, a.partials, a.counters, a.splits, kTile * RP, slot)) {
        return;
    }
#pragma unroll
    for (int i = 0; i < 2 * NT * 4; i++) {
        const int s = slot(i);
        const int64_t row = row0 + s / RP;
        const int j = s % RP;
        if (row < a.N && j < a.R) {
            const float v = a.alpha * vals[i];
            if (a.y != nullptr) {
                a.y[row * a.ldy + j] = v;
            }
            if (a.y16 != nullptr) {
                a.y16[row * a.ldy16 + j] = bf16_bits(v);
            }
        }
    }
}

// ---- lora_grad -------------------------------------------------------------------------------

struct GradArgs {
    const uint16_t* d;
    int64_t ldd;
    const uint16_t* x;
    int64_t ldx;
    float* out;
    int64_t osr, osm;
    float* partials;
    unsigned* counters;
    int64_t N, M, nc;  // nc: rows of x per split, a multiple of kGradBk
    int R, splits;
    float alpha;
    bool d_vec;  // d rows 16-byte aligned: staged with 16-byte loads
};

// Thread mapping: warp wp computes columns col0 + 32 wp .. + 32 of x (two m16 tiles of x^T) for
// every j; lane (g, t) holds columns 16 mt + g (+ 8) and j = 8 nt + 2 t (+ 1). NT even.
template <int NT, bool kVec>
__global__ void __launch_bounds__(kThreads) lora_grad_kernel(GradArgs a) {
    extern __shared__ uint4 smem_raw[];
    constexpr int RP = NT * 8, kDs = RP + 8;  // d rows padded: ldmatrix rows hit distinct banks
    auto* xs = reinterpret_cast<uint16_t*>(smem_raw);  // [kStages][kGradBk][kXsStride]
    uint16_t* ds = xs + kXsElems;                      // [nc][kDs]
    const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int64_t col0 = static_cast<int64_t>(blockIdx.x) * kTile;
    const int64_t nbeg = static_cast<int64_t>(blockIdx.y) * a.nc;
    const int64_t nend = min(a.N, nbeg + a.nc);
    const int iters = nend > nbeg ? static_cast<int>((nend - nbeg + kGradBk - 1) / kGradBk) : 0;

    // Stage `it`: rows nbeg + 32 it .. + 32 of the block's 128 columns (zeros past nend / M).
    auto issue = [&](int it) {
        if (it >= iters) {
            return;
        }
        uint16_t* dst = xs + (it % kStages) * kGradBk * kXsStride;
        const int64_t n0 = nbeg + static_cast<int64_t>(it) * kGradBk;
        for (int c = tid; c < kGradBk * (kTile / 8); c += kThreads) {
            const int r = c / (kTile / 8), q = c % (kTile / 8);
            const int64_t n = n0 + r, m = col0 + 8 * q;
            uint16_t* sp = dst + r * kXsStride + 8 * q;
            if constexpr (kVec) {
                const bool in = n < nend && m < a.M;
                const int bytes = in ? 2 * static_cast<int>(min(int64_t{8}, a.M - m)) : 0;
                cp_async16(sp, in ? a.x + n * a.ldx + m : a.x, bytes);
            } else {
                *reinterpret_cast<uint4*>(sp) =
                    n < nend ? load8<false>(a.x + n * a.ldx, m, a.M) : make_uint4(0u, 0u, 0u, 0u);
            }
        }
    };
#pragma unroll
    for (int s = 0; s < kStages - 1; s++) {
        issue(s);
        cp_async_commit();
    }
    // d rows nbeg .. nbeg + 32 iters, zeros past nend and R (also the padding columns).
    staged_copy(
        iters * kGradBk * (kDs / 8),
        [&](int c) {
            const int64_t n = nbeg + c / (kDs / 8);
            const int q = c % (kDs / 8);
            if (n >= nend) {
                return make_uint4(0u, 0u, 0u, 0u);
            }
            const uint16_t* dr = a.d + n * a.ldd;
            return a.d_vec ? load8<true>(dr, 8 * q, a.R) : load8<false>(dr, 8 * q, a.R);
        },
        [&](int c, uint4 v) {
            *reinterpret_cast<uint4*>(ds + (c / (kDs / 8)) * kDs + 8 * (c % (kDs / 8))) = v;
        });

    float acc[2][NT][4] = {};
    const int lr = lane & 7, lq = lane >> 3;
    for (int it = 0; it < iters; it++) {
        cp_async_wait<kStages - 2>();
        __syncthreads();  // stage `it` (and d) visible; stage it - 1 free to overwrite
        issue(it + kStages - 1);
        cp_async_commit();
        const uint16_t* xb = xs + (it % kStages) * kGradBk * kXsStride;
        const uint16_t* db = ds + it * kGradBk * kDs;
#pragma unroll
        for (int ks = 0; ks < kGradBk / 16; ks++) {
            // A = x^T (m16 x k16): matrices (m 0-7 | 8-15) x (k 0-7 | 8-15), stored [k][m].
            uint32_t af[2][4];
#pragma unroll
            for (int mt = 0; mt < 2; mt++) {
                ldsm_x4_trans(af[mt], xb + (ks * 16 + (lq >> 1) * 8 + lr) * kXsStride + warp * 32 +
                                          mt * 16 + (lq & 1) * 8);
            }
#pragma unroll
            for (int p = 0; p < NT / 2; p++) {
                // B = d (k16 x n8) for n tiles 2p, 2p + 1: matrices (k 0-7 | 8-15) x (tile).
                uint32_t bf[4];
                ldsm_x4_trans(bf,
                              db + (ks * 16 + (lq & 1) * 8 + lr) * kDs + p * 16 + (lq >> 1) * 8);
#pragma unroll
                for (int mt = 0; mt < 2; mt++) {
                    mma_16816(acc[mt][2 * p], af[mt][0], af[mt][1], af[mt][2], af[mt][3], bf[0],
                              bf[1]);
                    mma_16816(acc[mt][2 * p + 1], af[mt][0], af[mt][1], af[mt][2], af[mt][3], bf[2],
                              bf[3]);
                }
            }
        }
    }
    cp_async_wait<0>();

    float* flat = &acc[0][0][0];
    float(&vals)[2 * NT * 4] = *reinterpret_cast<float(*)[2 * NT * 4]>(flat);
    // value i = (mt, nt, c): local column 32 wp + 16 mt + g + 8 (c / 2), j = 8 nt + 2 t + c % 2
    auto slot = [&](int i) {
        const int mt = i / (NT * 4), nt = (i / 4) % NT, c = i % 4;
        return (warp * 32 + mt * 16 + g + 8 * (c >> 1)) * RP + nt * 8 + 2 * t + (c & 1);
    };
    if (!reduce_splits(vals, a.partials, a.counters, a.splits, kTile * RP, slot)) {
        return;
    }
#pragma unroll
    for (int i = 0; i < 2 * NT * 4; i++) {
        const int s = slot(i);
        const int64_t m = col0 + s / RP;
        const int j = s % RP;
        if (m < a.M && j < a.R) {
            float& o = a.out[j * a.osr + m * a.osm];
            o += a.alpha * vals[i];
        }
    }
}

// ---- host ------------------------------------------------------------------------------------

int sm_count() {
    int device = 0, sms = 0;
    QF_CUDA_CHECK(cudaGetDevice(&device));
    QF_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return sms;
}

int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

// How to split a reduction of length len over `tiles` blocks: about two blocks per SM, chunks of
// at least min_chunk and at most max_chunk (both multiples of align). Returns {splits, chunk}.
std::pair<int, int64_t> pick_splits(int64_t tiles, int64_t len, int64_t min_chunk,
                                    int64_t max_chunk, int64_t align, int forced) {
    int64_t s = forced > 0 ? forced
                           : std::clamp<int64_t>(ceil_div(2 * sm_count(), tiles), 1,
                                                 std::max<int64_t>(1, len / min_chunk));
    s = std::max(s, ceil_div(len, max_chunk));
    const int64_t chunk = std::clamp(ceil_div(ceil_div(len, s), align) * align, align, max_chunk);
    return {static_cast<int>(std::max<int64_t>(1, ceil_div(len, chunk))), chunk};
}

// `count` arrival counters for `stream`, all zero: zeroed when first handed out (or grown); the
// kernels leave them zero after every launch.
unsigned* zeroed_counters(cudaStream_t stream, int64_t count) {
    const size_t bytes = static_cast<size_t>(count) * sizeof(unsigned);
    void* p = stream_scratch(stream, ScratchSlot::kLoraThinCounters, bytes);
    int device = 0;
    QF_CUDA_CHECK(cudaGetDevice(&device));
    static std::mutex mu;
    static auto* zeroed = new std::map<std::pair<int, void*>, std::pair<void*, size_t>>();
    const std::lock_guard<std::mutex> lock(mu);
    auto& z = (*zeroed)[{device, static_cast<void*>(stream)}];
    if (z.first != p || z.second < bytes) {
        QF_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream));
        z = {p, bytes};
    }
    return static_cast<unsigned*>(p);
}

// The largest lora_grad split (rows of x) whose d copy fits kGradDsBytes of shared memory.
constexpr int kGradDsBytes = 64 * 1024;

// lora_down's w copy: at most this much dynamic shared memory (past the 48 KiB default limit with
// the kernel's own static bytes, so the limit is raised once per kernel).
constexpr int kDownWBytes = 48 * 1024;

template <int NT, bool kVec>
void launch_down_kernel(cudaStream_t stream, dim3 grid, size_t smem, const DownArgs& a) {
    static const bool attr_set = [] {
        QF_CUDA_CHECK(cudaFuncSetAttribute(
            lora_down_kernel<NT, kVec>, cudaFuncAttributeMaxDynamicSharedMemorySize, kDownWBytes));
        return true;
    }();
    (void)attr_set;
    lora_down_kernel<NT, kVec><<<grid, kThreads, smem, stream>>>(a);
    QF_CUDA_LAUNCH_CHECK();
}

template <int NT>
void launch_down(cudaStream_t stream, DownArgs a, int forced) {
    constexpr int RP = NT * 8;
    const int64_t tiles = ceil_div(a.N, kTile);
    constexpr int64_t max_kc = (kDownWBytes / 2 / RP) / 128 * 128;
    const auto [splits, kc] = pick_splits(tiles, a.K, 512, max_kc, 128, forced);
    a.splits = splits;
    a.kc = kc;
    if (splits > 1) {
        a.partials = static_cast<float*>(
            stream_scratch(stream, ScratchSlot::kLoraThinPartials,
                           static_cast<size_t>(splits * tiles) * kTile * RP * sizeof(float)));
        a.counters = zeroed_counters(stream, tiles);
    }
    const size_t smem = static_cast<size_t>(kc) * RP * 2;  // kc <= max_kc
    const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(splits));
    if (aligned16(a.x) && a.ldx % 8 == 0) {
        launch_down_kernel<NT, true>(stream, grid, smem, a);
    } else {
        launch_down_kernel<NT, false>(stream, grid, smem, a);
    }
}

template <int NT, bool kVec>
void launch_grad_kernel(cudaStream_t stream, dim3 grid, size_t smem, const GradArgs& a) {
    static const bool attr_set = [] {
        constexpr int kDs = NT * 8 + 8;
        constexpr int max_nc = kGradDsBytes / (kDs * 2) / kGradBk * kGradBk;
        QF_CUDA_CHECK(cudaFuncSetAttribute(lora_grad_kernel<NT, kVec>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           kXsElems * 2 + max_nc * kDs * 2));
        return true;
    }();
    (void)attr_set;
    lora_grad_kernel<NT, kVec><<<grid, kThreads, smem, stream>>>(a);
    QF_CUDA_LAUNCH_CHECK();
}

template <int NT>
void launch_grad(cudaStream_t stream, GradArgs a, int forced) {
    constexpr int RP = NT * 8, kDs = RP + 8;
    const int64_t tiles = ceil_div(a.M, kTile);
    constexpr int64_t max_nc = kGradDsBytes / (kDs * 2) / kGradBk * kGradBk;
    const auto [splits, nc] = pick_splits(tiles, a.N, 256, max_nc, kGradBk, forced);
    a.splits = splits;
    a.nc = nc;
    if (splits > 1) {
        a.partials = static_cast<float*>(
            stream_scratch(stream, ScratchSlot::kLoraThinPartials,
                           static_cast<size_t>(splits * tiles) * kTile * RP * sizeof(float)));
        a.counters = zeroed_counters(stream, tiles);
    }
    const size_t smem = static_cast<size_t>(kXsElems) * 2 + static_cast<size_t>(nc) * kDs * 2;
    const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(splits));
    if (aligned16(a.x) && a.ldx % 8 == 0) {
        launch_grad_kernel<NT, true>(stream, grid, smem, a);
    } else {
        launch_grad_kernel<NT, false>(stream, grid, smem, a);
    }
}

}  // namespace

void lora_down_bf16(void* stream, int64_t N, int64_t K, int64_t R, const uint16_t* x, int64_t ldx,
                    const uint16_t* w, int64_t w_stride_r, int64_t w_stride_k, float alpha,
                    float* y, int64_t ldy, uint16_t* y16, int64_t ldy16, int splits) {
    auto* s = static_cast<cudaStream_t>(stream);
    if (R > 64) {  // cuBLASLt: fp32 into y (or a scratch), then rounded into y16
        float* out = y;
        int64_t ld = ldy;
        if (out == nullptr) {
            out = static_cast<float*>(stream_scratch(stream, ScratchSlot::kLoraThinPartials,
                                                     static_cast<size_t>(N * R) * sizeof(float)));
            ld = R;
        }
        const bool rows = w_stride_k == 1;  // w row-major (R, K), else (K, R)
        gemm_bf16(stream, false, rows, N, R, K, alpha, x, ldx, w, rows ? w_stride_r : w_stride_k,
                  0.0f, out, ld);
        if (y16 != nullptr) {
            convert_to_bf16(stream, y16, ldy16, out, ld, N, R, 1.0f);
        }
        return;
    }
    DownArgs a{};
    a.x = x;
    a.ldx = ldx;
    a.w = w;
    a.wsr = w_stride_r;
    a.wsk = w_stride_k;
    a.y = y;
    a.ldy = ldy;
    a.y16 = y16;
    a.ldy16 = ldy16;
    a.N = N;
    a.K = K;
    a.R = static_cast<int>(R);
    a.alpha = alpha;
    a.w_vec = w_stride_k == 1 && aligned16(w) && w_stride_r % 8 == 0;
    if (R <= 16) {
        launch_down<2>(s, a, splits);
    } else if (R <= 32) {
        launch_down<4>(s, a, splits);
    } else if (R <= 48) {
        launch_down<6>(s, a, splits);
    } else {
        launch_down<8>(s, a, splits);
    }
}

void lora_grad_bf16(void* stream, int64_t N, int64_t M, int64_t R, const uint16_t* d, int64_t ldd,
                    const uint16_t* x, int64_t ldx, float alpha, float* out, int64_t out_stride_r,
                    int64_t out_stride_m, int splits) {
    auto* s = static_cast<cudaStream_t>(stream);
    if (R > 64) {  // cuBLASLt, beta 1 (the dispatcher checked that out is row-major one way)
        if (out_stride_m == 1) {
            gemm_bf16(stream, true, false, R, M, N, alpha, d, ldd, x, ldx, 1.0f, out, out_stride_r);
        } else {
            gemm_bf16(stream, true, false, M, R, N, alpha, x, ldx, d, ldd, 1.0f, out, out_stride_m);
        }
        return;
    }
    GradArgs a{};
    a.d = d;
    a.ldd = ldd;
    a.x = x;
    a.ldx = ldx;
    a.out = out;
    a.osr = out_stride_r;
    a.osm = out_stride_m;
    a.N = N;
    a.M = M;
    a.R = static_cast<int>(R);
    a.alpha = alpha;
    a.d_vec = aligned16(d) && ldd % 8 == 0;
    if (R <= 16) {
        launch_grad<2>(s, a, splits);
    } else if (R <= 32) {
        launch_grad<4>(s, a, splits);
    } else if (R <= 48) {
        launch_grad<6>(s, a, splits);
    } else {
        launch_grad<8>(s, a, splits);
    }
}

}  // namespace qforge::kernels::cuda
