// What is here: inverted dropout with a counter-based mask: element i of call `key` is kept
// when hash(seed, key, i) >= p, so backward (and a resumed run) recomputes the same mask
// without storing it.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// out[i] = keep(i) ? inp[i] / (1 - p) : 0.  In place (out == inp) is allowed.
void dropout_forward(const Ctx& ctx, float* out, const float* inp, int64_t n, float p,
                     uint64_t seed, uint64_t key);

// dinp[i] += keep(i) ? dout[i] / (1 - p) : 0
void dropout_backward(const Ctx& ctx, float* dinp, const float* dout, int64_t n, float p,
                      uint64_t seed, uint64_t key);

// The mask bit both passes use (exposed for tests): splitmix64 of (seed, key, i).
bool dropout_keep(uint64_t seed, uint64_t key, int64_t i, float p);

}  // namespace qforge::kernels
