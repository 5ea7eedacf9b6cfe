// What is here: LayerNorm, out = (inp - mean) * rstd * weight + bias (BERT's nn.LayerNorm).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// inp, out (N,C), out may alias inp (in place); weight, bias (C), bias may be nullptr; mean and
// rstd (N) are saved for backward and may be nullptr. The variance is the biased one (divides
// by C), as torch's layer_norm.
void layernorm_forward(const Ctx& ctx, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int64_t N, int64_t C, float eps);

// dinp (N,C) +=, dweight (C) +=, dbias (C) += (each may be nullptr when not wanted); mean and
// rstd (N) are the forward's. Deterministic on both backends (CUDA sums dweight/dbias over rows
// in a fixed order, no atomics).
void layernorm_backward(const Ctx& ctx, float* dinp, float* dweight, float* dbias,
                        const float* dout, const float* inp, const float* weight, const float* mean,
                        const float* rstd, int64_t N, int64_t C);

}  // namespace qforge::kernels
