// What is here: the fully connected layer in Hugging Face nn.Linear layout (weight is (OC,C)).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC, or nullptr for none).
void linear_forward(const Ctx& ctx, float* out, const float* inp, const float* weight,
                    const float* bias, int64_t N, int64_t C, int64_t OC);

// dinp (N,C) +=, dweight (OC,C) +=, dbias (OC) +=; each may be nullptr when not wanted.
void linear_backward(const Ctx& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int64_t N, int64_t C, int64_t OC);

}  // namespace qforge::kernels
