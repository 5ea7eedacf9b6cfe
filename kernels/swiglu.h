// What is here: the SwiGLU gate of the Llama MLP, out = silu(gate) * up, elementwise, and its
// bf16-output twins, which write the operands of the fused bf16 LoRA path's GEMMs
// (runtime/model/lora_fused.h) straight into strided bf16 matrices (values as their 16 bits).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// out, gate, up: n values each; silu(x) = x * sigmoid(x). out may alias gate or up (in place).
void swiglu_forward(const Ctx& ctx, float* out, const float* gate, const float* up, int64_t n);

// dgate += dout * up * silu'(gate); dup += dout * silu(gate). Either may be nullptr.
void swiglu_backward(const Ctx& ctx, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n);

// The bf16 twins read bf16 gate, up (and dh): (N, F) contiguous, values as their 16 bits, widened
// exactly to fp32.
// h[r * ld_h + c] = bf16(silu(gate) * up) for r < N, c < F; the fp32 value is computed from the
// widened inputs exactly as swiglu_forward computes it, then rounded (RNE). Columns >= F of each h
// row are left as they are.
void swiglu_forward_bf16(const Ctx& ctx, uint16_t* h, int64_t ld_h, const uint16_t* gate,
                         const uint16_t* up, int64_t N, int64_t F);

// dgate[r*ld + c] = bf16(dh * d silu(gate)/d gate * up), dup[r*ld + c] = bf16(dh * silu(gate)),
// written (not accumulated), the fp32 values computed from the widened inputs exactly as
// swiglu_backward computes its increments. Columns >= F of each row are left as they are.
void swiglu_backward_bf16(const Ctx& ctx, uint16_t* dgate, uint16_t* dup, int64_t ld,
                          const uint16_t* dh, const uint16_t* gate, const uint16_t* up, int64_t N,
                          int64_t F);

// swiglu_backward_bf16, and in the same pass over gate and up the LoRA A-gradient of the down
// projection whose input is h = swiglu_forward_bf16(gate, up), without h being stored:
//   dA[j * ld_a + c] += sum_{r < N} du[r * ld_du + j] * h[r][c]      (j < R, c < F)
// du: (N, R) bf16 (the down projection's dU = s dy B), h[r][c] the bf16 value swiglu_forward_bf16
// writes, products and sums in fp32, in a fixed order (the same bits every run). R <= 32.
// partials: device scratch of swiglu_lora_partials(N, F, R) floats (nullptr on the CPU).
void swiglu_backward_bf16_lora(const Ctx& ctx, uint16_t* dgate, uint16_t* dup, int64_t ld,
                               const uint16_t* dh, const uint16_t* gate, const uint16_t* up,
                               int64_t N, int64_t F, const uint16_t* du, int64_t ld_du, int64_t R,
                               float* dA, int64_t ld_a, float* partials);

constexpr int64_t kSwigluLoraMaxRank = 32;

// The floats of swiglu_backward_bf16_lora's partials buffer on CUDA (one R x F sum per block of
// rows); 0 in a build without CUDA.
int64_t swiglu_lora_partials(int64_t N, int64_t F, int64_t R);

}  // namespace qforge::kernels
