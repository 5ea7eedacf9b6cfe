// What is here: the AdamW update (decoupled weight decay, Loshchilov & Hutter 2019) over one
// flat fp32 parameter buffer, and the sum of squares used for global-norm clipping.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

struct AdamWParams {
    float lr;
    float beta1, beta2, eps;
    float weight_decay;
    float grad_scale;  // gradients are multiplied by this first (clipping, 1/accumulation)
    int64_t step;      // 1-based, for bias correction
};

// For each i (torch.optim.AdamW semantics):
//   g = grad[i] * grad_scale
//   param[i] *= 1 - lr * weight_decay
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   param[i] -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
void adamw_update(const Ctx& ctx, float* param, const float* grad, float* m, float* v, int64_t n,
                  const AdamWParams& p);

// Returns sum_i x[i]^2 (accumulated in double). Deterministic on both backends (CUDA: a fixed
// reduction tree for a given n); on CUDA the call waits for the stream.
double sum_of_squares(const Ctx& ctx, const float* x, int64_t n);

}  // namespace qforge::kernels
