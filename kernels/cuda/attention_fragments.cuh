// What is here: how the flash-attention backwards (attention_mma.cu on mma.sync,
// attention_wgmma_bwd.cu on wgmma) add a warp's accumulator fragments into an fp32 gradient with
// atomics; both keep their accumulators in mma.sync's C-fragment layout.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cuda/mma_ptx.cuh"

namespace qforge::kernels::cuda {

// Calls f(p, x, y) for each of this lane's column pairs of a warp's 16 x 8 NT fragment block (the
// layout below) in rows < nrows: p points at dst's element, x, y are mul times the pair's values.
template <int NT, typename F>
__device__ inline void for_each_fragment_pair(float* dst, int64_t rs, int64_t row0, int64_t nrows,
                                              const float* acc, float mul, int g, int tq, F f) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t row = row0 + g + 8 * r;
        if (row >= nrows) {
            continue;
        }
        float* p = dst + row * rs + 2 * tq;
#pragma unroll
        for (int n = 0; n < NT; n++) {
            f(p + 8 * n, acc[4 * n + 2 * r] * mul, acc[4 * n + 2 * r + 1] * mul);
        }
    }
}

// dst rows row0 .. row0 + 15 (those < nrows), columns 0 .. 8 NT - 1, += mul * acc, where acc is
// this lane's share of a warp's 16 x 8 NT fragment block, tile n at acc[4 n .. 4 n + 3]: (row
// g: columns 8 n + 2 tq, + 1), (row g + 8: the same). Rows are rs floats apart. vec: dst and rs
// allow 16-byte atomics, after one quad shuffle gives each lane 4 consecutive columns of one row
// (every lane of the warp must call).
template <int NT>
__device__ inline void atomic_add_fragment(float* dst, int64_t rs, int64_t row0, int64_t nrows,
                                           const float* acc, float mul, int g, int tq, bool vec) {
    if (vec) {
        const int64_t row = row0 + g + quad_row(tq);
        float* p = dst + row * rs + 2 * (tq & ~1);
#pragma unroll
        for (int n = 0; n < NT; n++) {
            const float4 x =
                quad_row4(acc[4 * n], acc[4 * n + 1], acc[4 * n + 2], acc[4 * n + 3], tq);
            if (row < nrows) {
                atomic_add4(p + 8 * n, make_float4(x.x * mul, x.y * mul, x.z * mul, x.w * mul));
            }
        }
        return;
    }
    for_each_fragment_pair<NT>(dst, rs, row0, nrows, acc, mul, g, tq,
                               [](float* p, float x, float y) {
                                   atomicAdd(p, x);
                                   atomicAdd(p + 1, y);
                               });
}

// dst rows row0 .. row0 + 15 (those < nrows), columns 0 .. 8 NT - 1, += mul * acc as above, with
// plain loads and stores: for rows that no other thread adds to. pairs: dst and rs allow 8-byte
// accesses.
template <int NT>
__device__ inline void add_fragment(float* dst, int64_t rs, int64_t row0, int64_t nrows,
                                    const float* acc, float mul, int g, int tq, bool pairs) {
    for_each_fragment_pair<NT>(dst, rs, row0, nrows, acc, mul, g, tq,
                               [pairs](float* p, float x, float y) {
                                   if (pairs) {
                                       auto* p2 = reinterpret_cast<float2*>(p);
                                       const float2 old = *p2;
                                       *p2 = make_float2(old.x + x, old.y + y);
                                   } else {
                                       p[0] += x;
                                       p[1] += y;
                                   }
                               });
}

}  // namespace qforge::kernels::cuda
