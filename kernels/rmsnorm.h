// What is here: RMSNorm, out = inp * rstd * weight with rstd = 1/sqrt(mean(inp^2) + eps), and
// its bf16-output twin (the normalized activations as a bf16 GEMM operand, values as their 16
// bits, for the fused bf16 LoRA path).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// inp, out (N,C), out may alias inp (in place); weight (C); rstd (N) is saved for backward and
// may be nullptr.
void rmsnorm_forward(const Ctx& ctx, float* out, float* rstd, const float* inp, const float* weight,
                     int64_t N, int64_t C, float eps);

// rmsnorm_forward, but out is bf16 with row stride ld_out (columns >= C left as they are); rstd
// (N) fp32 as rmsnorm_forward writes it. Each value is rmsnorm_forward's fp32 value rounded to
// nearest even. inp (N, C) contiguous; rstd may be nullptr.
void rmsnorm_forward_bf16(const Ctx& ctx, uint16_t* out, int64_t ld_out, float* rstd,
                          const float* inp, const float* weight, int64_t N, int64_t C, float eps);

// dinp (N,C) += and dweight (C) += (either may be nullptr when not wanted); rstd (N) is the
// forward's. Deterministic on both backends (CUDA sums dweight over rows in a fixed order, no
// atomics).
void rmsnorm_backward(const Ctx& ctx, float* dinp, float* dweight, const float* dout,
                      const float* inp, const float* weight, const float* rstd, int64_t N,
                      int64_t C);

}  // namespace qforge::kernels
