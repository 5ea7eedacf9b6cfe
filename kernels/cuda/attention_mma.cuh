// What is here: the launchers of the bf16 entry points on the mma flash attention
// (kernels/cuda/attention_mma.cu), called by kernels/attention.cpp after its checks. Plain
// declarations (no CUDA headers: a .cpp includes it); `stream` is a cudaStream_t as void*.
#pragma once

#include <cstdint>

namespace qforge::kernels {
struct AttnBf16Params;
}  // namespace qforge::kernels

namespace qforge::kernels::cuda {

// head_dim 64 or 128; every pointer 16-byte aligned, every row stride a multiple of 8
// (kernels/attention.cpp checks both before it calls these).
// Whether the current GPU is sm_90 and this build carries sm_90a code for the wgmma forward of
// attention_wgmma.cu (asked once per process).
bool wgmma_attention_available();

// wgmma: run the forward on attention_wgmma.cu where the GPU and the build have it.
void attention_mma_forward_bf16(void* stream, const AttnBf16Params& p, bool wgmma);
// wgmma: at head_dim 128, run the backward on attention_wgmma_bwd.cu where the GPU and the build
// have it, with wgmma_heads query heads per block (0: its own pick;
// set_cuda_attention_wgmma_heads).
void attention_mma_backward_bf16(void* stream, const AttnBf16Params& p, float* dq, float* dk,
                                 float* dv, const uint16_t* dout, int64_t dout_row_stride,
                                 bool wgmma, int wgmma_heads);

}  // namespace qforge::kernels::cuda
