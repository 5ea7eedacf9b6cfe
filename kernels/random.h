// What is here: random_normal, counter-based Gaussian noise for initialising weights on any
// backend (random benchmark models on the GPU, LoRA A matrices): element i is a pure function
// of (seed, key, i), the same on the CPU and CUDA (to ~1e-6 relative: both compute Box-Muller
// in double and round once; the device's log/cos may differ from libm's in the last double bit).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// out (n) = stddev * N(0, 1) draws; `key` separates tensors drawn with one seed.
void random_normal(const Ctx& ctx, float* out, int64_t n, float stddev, uint64_t seed,
                   uint64_t key);

}  // namespace qforge::kernels
