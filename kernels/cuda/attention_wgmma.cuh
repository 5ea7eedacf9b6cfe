// What is here: the wgmma (sm_90a) flash-attention forward and backward of
// kernels/cuda/attention_wgmma.cu and attention_wgmma_bwd.cu, for the bf16 API's launchers in
// attention_mma.cu.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cuda/attention_mma_args.cuh"

namespace qforge::kernels::cuda {

// wgmma_attention_available() is declared in attention_mma.cuh.

// The bf16 API's forward (FwdMode::kBf16 of attention_mma.cu: bf16 q, k, v, out, fp32 lse, a's
// seg_tiles already made) for head_dim D = 64 or 128; only where wgmma_attention_available().
void attention_wgmma_forward_bf16(cudaStream_t stream, const MmaArgs& a, int64_t D);

// The bf16 API's backward at head_dim 128 (attention_wgmma_bwd.cu): dsum = dot(dout, out) already
// made, dq / dk / dv fp32 with a's strides, each may be nullptr, accumulated (+=). heads: query
// heads per block, a divisor of Hq / Hkv, or 0 to let it pick.
void attention_wgmma_backward_bf16(cudaStream_t stream, const MmaArgs& a, const float* dsum,
                                   float* dq, float* dk, float* dv, int heads);

}  // namespace qforge::kernels::cuda
