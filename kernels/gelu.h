// What is here: the exact (erf) GELU, out = 0.5 * x * (1 + erf(x / sqrt(2))), Hugging Face's
// hidden_act "gelu" (not the tanh approximation "gelu_new" / "gelu_pytorch_tanh").
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// out, inp (n) elementwise; out may alias inp.
void gelu_forward(const Ctx& ctx, float* out, const float* inp, int64_t n);

// dinp (n) += dout * gelu'(inp).
void gelu_backward(const Ctx& ctx, float* dinp, const float* dout, const float* inp, int64_t n);

}  // namespace qforge::kernels
