// CPU reference for inverted dropout with a counter-based (stateless) mask; see
// kernels/dropout.h. The mask is a pure function of (seed, key, index), so backward and a
// resumed run see the same mask without storing it.
#include "kernels/dropout.h"

#include "kernels/cpu/ops.h"

namespace qforge::kernels {

namespace {
// splitmix64 finaliser (Steele, Lea, Flood 2014): a cheap, well-mixed 64-bit hash.
uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
}  // namespace

bool dropout_keep(uint64_t seed, uint64_t key, int64_t i, float p) {
    const uint64_t h = mix(mix(seed ^ mix(key)) ^ static_cast<uint64_t>(i));
    const double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    return u >= p;
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
