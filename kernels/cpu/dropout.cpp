// CPU reference for inverted dropout with a counter-based (stateless) mask; see
// kernels/dropout.h. The mask is a pure function of (seed, key, index), so backward and a
// resumed run see the same mask without storing it.
#include "kernels/dropout.h"

#include "kernels/counter_hash.h"
#include "kernels/cpu/ops.h"

namespace qforge::kernels {

// splitmix64 of (seed, key, i), its top 53 bits as a uniform in [0, 1) (kernels/counter_hash.h,
// shared with the CUDA kernel).
bool dropout_keep(uint64_t seed, uint64_t key, int64_t i, float p) {
    return hash::dropout_keep(seed, key, i, p);
}

namespace cpu {

// out, inp are (n)
void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                     uint64_t key) {
    const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        out[i] = dropout_keep(seed, key, i, p) ? inp[i] * scale : 0.0f;
    }
}

// dinp, dout are (n); dinp is accumulated
void dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed,
                      uint64_t key) {
    const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        if (dropout_keep(seed, key, i, p)) {
            dinp[i] += dout[i] * scale;
        }
    }
}

}  // namespace cpu
}  // namespace qforge::kernels
