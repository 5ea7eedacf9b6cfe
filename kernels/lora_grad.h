// What is here: the LoRA factor products of one adapted projection's backward that read the
// projection's output gradient dy, computed from one pass over dy (the fused bf16 LoRA path,
// runtime/model/lora_fused.h). cuBLASLt would read dy twice, in two thin GEMMs (N = r columns)
// that run far below the memory bandwidth; at Llama-3-8B dy is up to 117 MB a projection.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// dy (N, Out) bf16 with row stride ld_dy; sb (Out, R) bf16 with row stride ld_sb (the scaled
// LoRA B, s B); u (N, R) fp32 with row stride ld_u (the LoRA input x A^T, rounded to bf16 as it
// is read):
//   du[i][j]          = sum_{o < Out} dy[i][o] sb[o][j]               (N, R) fp32, written
//   du_bf16[i*ld_du+j] = bf16(du[i][j])  (RNE; nullptr: not written; columns >= R left alone)
//   dB[o][j]         += scale * sum_{i < N} dy[i][o] bf16(u[i][j])    (Out, R) fp32, accumulated
// Products and sums in fp32. R is 8, 16, 32 or 64; Out, ld_dy, ld_sb and ld_du are multiples of 8,
// ld_u of 4, and every pointer 16-byte aligned (lora_dy_products_fits says whether a call
// qualifies). CUDA: the sums of blocks of dy are added with atomics, so their order (the last bits)
// varies from run to run.
void lora_dy_products(const Ctx& ctx, const uint16_t* dy, int64_t ld_dy, const uint16_t* sb,
                      int64_t ld_sb, const float* u, int64_t ld_u, int64_t N, int64_t Out,
                      int64_t R, float scale, float* du, uint16_t* du_bf16, int64_t ld_du,
                      float* dB);

// True when lora_dy_products takes these shapes, strides and pointers.
bool lora_dy_products_fits(const uint16_t* dy, int64_t ld_dy, const uint16_t* sb, int64_t ld_sb,
                           const float* u, int64_t ld_u, int64_t Out, int64_t R, const float* du,
                           const uint16_t* du_bf16, int64_t ld_du, const float* dB);

}  // namespace qforge::kernels
