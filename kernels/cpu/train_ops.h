// What is here: CPU reference declarations of the optimizer and dropout ops
// (kernels/adamw.h, kernels/dropout.h).
#pragma once

#include <cstdint>

#include "kernels/adamw.h"

namespace qforge::kernels::cpu {

void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n,
                  const AdamWParams& p);
double sum_of_squares(const float* x, int64_t n);
void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t key);
void dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed,
                      uint64_t key);

}  // namespace qforge::kernels::cpu
