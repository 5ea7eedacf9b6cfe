// CPU reference for random_normal (kernels/random.h): element i is Box-Muller on two uniforms
// from the counter hash of (seed, key, i), computed in double (kernels/counter_hash.h, shared
// with the CUDA kernel) and rounded to float once. Left out on purpose: other distributions and
// truncation (callers scale or clip).
#include "kernels/counter_hash.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

// out is (n)
void random_normal(float* out, int64_t n, float stddev, uint64_t seed, uint64_t key) {
#pragma omp parallel for if (n >= kParallelMinWork)
    for (int64_t i = 0; i < n; i++) {
        out[i] = hash::normal_value(seed, key, i, stddev);
    }
}

}  // namespace qforge::kernels::cpu
