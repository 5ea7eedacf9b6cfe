// What is here: rotary position embedding in the Hugging Face "rotate_half" convention (element
// i of a head pairs with element i + D/2), its frequency/scaling setup and its tables, and the
// bf16-row twins the train step uses on its bf16 q/k (values as their 16 bits).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// config.json "rope_scaling" / "rope_parameters": none, "llama3", or "linear".
struct RopeScaling {
    enum class Type { kNone, kLlama3, kLinear } type = Type::kNone;
    float factor = 1, low_freq_factor = 1, high_freq_factor = 4;
    int64_t original_max_position = 8192;
};

// inv_freq (D/2): theta^(-2i/D), then adjusted exactly as transformers'
// _compute_llama3_parameters (llama3) or divided by factor (linear). Host-side, no Ctx.
void rope_inv_freq(float* inv_freq, int64_t D, float theta, const RopeScaling& scaling);

// cos, sin (T_max, D/2): angle = pos * inv_freq[i], computed in double and stored as float.
void rope_tables(float* cos, float* sin, const float* inv_freq, int64_t T_max, int64_t D);

// In place on x (N,H,D); pos (N) is each row's absolute position (a row of the tables).
// For each head and i < D/2, with c = cos[pos][i], s = sin[pos][i]:
//   x[i] <- x[i]*c - x[i+D/2]*s;   x[i+D/2] <- x[i+D/2]*c + x[i]*s
void rope_forward(const Ctx& ctx, float* x, const int32_t* pos, const float* cos, const float* sin,
                  int64_t N, int64_t H, int64_t D);

// In place on dx (N,H,D): dx <- R^T dx, the inverse rotation (so it is not an accumulate).
void rope_backward(const Ctx& ctx, float* dx, const int32_t* pos, const float* cos,
                   const float* sin, int64_t N, int64_t H, int64_t D);

// rope_forward in place on bf16 rows: x holds (N, H, D) bf16 words, token n's heads start at
// x + n * ld (ld >= H * D; columns past H * D are left as they are). Each value is rope_forward's
// fp32 value computed from the widened inputs, rounded to nearest even; CPU and CUDA agree bit
// for bit.
void rope_forward_bf16(const Ctx& ctx, uint16_t* x, int64_t ld, const int32_t* pos,
                       const float* cos, const float* sin, int64_t N, int64_t H, int64_t D);

// dst (bf16 rows of stride ld >= H * D; columns past H * D left as they are) = R^T dx, each value
// rope_backward's fp32 value rounded to nearest even as it is stored. dx (N, H, D) is fp32,
// contiguous and not modified. Replaces rope_backward followed by convert_to_bf16. CPU and CUDA
// agree bit for bit.
void rope_backward_to_bf16(const Ctx& ctx, uint16_t* dst, int64_t ld, const float* dx,
                           const int32_t* pos, const float* cos, const float* sin, int64_t N,
                           int64_t H, int64_t D);

}  // namespace qforge::kernels
