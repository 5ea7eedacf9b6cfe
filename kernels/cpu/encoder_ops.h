// What is here: the CPU entry points of the encoder ops (LayerNorm, exact GELU), with the
// arguments of kernels/layernorm.h and kernels/gelu.h minus the Ctx. Kept apart from
// kernels/cpu/ops.h until the ops join the registry.
#pragma once

#include <cstdint>

namespace qforge::kernels::cpu {

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int64_t N, int64_t C);

void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);

}  // namespace qforge::kernels::cpu
