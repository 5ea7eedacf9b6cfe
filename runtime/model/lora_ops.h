// What is here: one adapted projection y = x W^T + s * dropout(x) A^T B^T, forward and
// backward, written with gemm calls (the base W is frozen: it gets no weight gradient).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/common.h"
#include "runtime/model/frozen_linear.h"
#include "runtime/model/lora.h"
#include "runtime/tensor/device_array.h"

namespace qforge {

struct LoraProjection {
    const float* W;  // (out, in) base weight, fp32 (NF4 already dequantized)
    const float* A;  // (r, in) or nullptr when this projection has no adapter
    const float* B;  // (out, r)
    int64_t in, out, r;
    float scale;         // alpha / r (or alpha / sqrt(r))
    float dropout;       // on the LoRA input; 0 in eval
    uint64_t seed, key;  // dropout mask identity (kernels/dropout.h)
};

// Projection t of decoder layer `layer`: the base weight (NF4 dequantized into scratch) and,
// when `adapter` adapts it, its A, B, rank and scale. No dropout (callers set it for training).
LoraProjection lora_projection_of(const FrozenLinear& weight, std::vector<float>& scratch,
                                  const LoraAdapter* adapter, int64_t layer, int t);

// drop(x) (N, in) into xd (grown to N*in floats), or x itself when p has no dropout.
const float* dropped_input(const kernels::Ctx& ctx, const LoraProjection& p, const float* x,
                           int64_t N, DeviceArray<float>& xd);

// y (N,out) = beta * y + x W^T + s * drop(x) A^T B^T. u (N,r) receives drop(x) A^T when
// non-null (saved for backward); y == nullptr computes u only. xd is scratch on ctx (grown to N*in
// floats with dropout, or N*r when u is null).
void lora_projection_forward(const kernels::Ctx& ctx, const LoraProjection& p, float* y,
                             const float* x, int64_t N, float beta, float* u,
                             DeviceArray<float>& xd);

// dx (N,in) += dy W + s * drop'(dy B A); dA (r,in) += s * ...; dB (out,r) += s * dy^T u.
// du and xd are scratch on ctx (grown to N*r and N*in floats).
void lora_projection_backward(const kernels::Ctx& ctx, const LoraProjection& p, float* dx,
                              float* dA, float* dB, const float* dy, const float* x, const float* u,
                              int64_t N, DeviceArray<float>& du, DeviceArray<float>& xd);

}  // namespace qforge
