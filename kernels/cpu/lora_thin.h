// What is here: the CPU references of kernels/lora_thin.h (kernels/cpu/lora_thin.cpp), called by
// its dispatcher after the argument checks.
#pragma once

#include <cstdint>

namespace qforge::kernels::cpu {

void lora_down_bf16(int64_t N, int64_t K, int64_t R, const uint16_t* x, int64_t ldx,
                    const uint16_t* w, int64_t w_stride_r, int64_t w_stride_k, float alpha,
                    float* y, int64_t ldy, uint16_t* y16, int64_t ldy16);
void lora_grad_bf16(int64_t N, int64_t M, int64_t R, const uint16_t* d, int64_t ldd,
                    const uint16_t* x, int64_t ldx, float alpha, float* out, int64_t out_stride_r,
                    int64_t out_stride_m);

}  // namespace qforge::kernels::cpu
