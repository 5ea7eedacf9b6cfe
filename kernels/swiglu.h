// What is here: the SwiGLU gate of the Llama MLP, out = silu(gate) * up, elementwise.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// out, gate, up: n values each; silu(x) = x * sigmoid(x). out may alias gate or up (in place).
void swiglu_forward(const Ctx& ctx, float* out, const float* gate, const float* up, int64_t n);

// dgate += dout * up * silu'(gate); dup += dout * silu(gate). Either may be nullptr.
void swiglu_backward(const Ctx& ctx, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n);

}  // namespace qforge::kernels
