// What is here: what the flash-attention forward (attention_fwd.cu) and backward
// (attention_bwd.cu) kernels share: tile sizes, the visibility rule of kernels/attention.h,
// the tile loader, and the head-dim switch that picks a kernel instantiation.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/attention_params.h"

namespace qforge::kernels::cuda {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Scores are kept in log2 units (q pre-scaled by log2(e)/sqrt(D)), so exp() becomes exp2f().
inline float attn_scale_log2(int64_t D) {
    return kLog2e / sqrtf(static_cast<float>(D));
}

// Query row t (< T) sees key `key` when it is not in the future and, with packing, when both
// carry the same segment id (seg_t, seg_key are only compared when segment_ids is given).
__device__ inline bool attn_visible(const AttnParams& p, int64_t t, int64_t key, int32_t seg_t,
                                    int32_t seg_key) {
    return t < p.T && key <= p.q_pos0 + t && (p.segment_ids == nullptr || seg_t == seg_key);
}

// Rows [r0, r0 + ROWS) of one head (base points at row 0, d 0; rows are row_stride apart) into
// shared memory [ROWS][STRIDE], times `mul`; rows >= nrows and columns >= D become 0. Threads
// stride over (row, d) with d fastest, so a warp reads consecutive floats of a row.
template <int ROWS, int DP, int STRIDE>
__device__ inline void attn_load_tile(float* dst, const float* base, int64_t row_stride, int64_t r0,
                                      int64_t nrows, int64_t D, float mul) {
    for (int idx = static_cast<int>(threadIdx.x); idx < ROWS * DP;
         idx += static_cast<int>(blockDim.x)) {
        const int r = idx / DP, d = idx % DP;
        const int64_t row = r0 + r;
        dst[r * STRIDE + d] = (row < nrows && d < D) ? base[row * row_stride + d] * mul : 0.0f;
    }
}

// Calls f.template operator()<DP>() with DP the head dim rounded up to 32, 64 or 128.
template <typename F>
void attn_head_dim_switch(int64_t D, F&& f) {
    if (D <= 32) {
        f.template operator()<32>();
    } else if (D <= 64) {
        f.template operator()<64>();
    } else {
        f.template operator()<128>();
    }
}

}  // namespace qforge::kernels::cuda

namespace qforge::kernels::cuda {

// dsum (B,Hq,T) = dot(dout, out) per query row, the FA2 backward's preprocessing; out is p.out
// when given, else recomputed from p.lse (kernels/cuda/attention_fwd.cu), on tensor cores when
// tensor_cores is set.
void attention_dsum(cudaStream_t stream, const AttnParams& p, const float* dout, float* dsum,
                    bool tensor_cores);

// The tensor-core (TF32) kernels of kernels/cuda/attention_tc.cu take head_dim 64 and 128.
inline bool attention_tc_fits(int64_t D) {
    return D == 64 || D == 128;
}

// Forward; with dout given, dsum = dot(dout, out) from p.lse instead (out is not written).
void attention_tc_forward(cudaStream_t stream, const AttnParams& p, const float* dout, float* dsum);
void attention_tc_backward(cudaStream_t stream, const AttnParams& p, const float* dsum, float* dq,
                           float* dk, float* dv, const float* dout);

}  // namespace qforge::kernels::cuda
