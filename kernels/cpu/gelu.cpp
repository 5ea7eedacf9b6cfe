// CPU reference for the exact GELU (torch.nn.functional.gelu with approximate="none"): the
// specification a CUDA kernel would be tested against. Computed in double per element.
// Left out on purpose: the tanh approximation (a different op, "gelu_new" in Hugging Face).
//
// gelu(x)  = x * Phi(x),  Phi(x) = 0.5 * (1 + erf(x / sqrt(2)))
// gelu'(x) = Phi(x) + x * phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

}  // namespace

// out, inp are (n); out may alias inp
void gelu_forward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for if (n >= kParallelMinWork)
    for (int64_t i = 0; i < n; i++) {
        const double x = inp[i];
        out[i] = static_cast<float>(0.5 * x * (1.0 + std::erf(x * kInvSqrt2)));
    }
}

// dinp is accumulated (+=)
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
#pragma omp parallel for if (n >= kParallelMinWork)
    for (int64_t i = 0; i < n; i++) {
        const double x = inp[i];
        const double cdf = 0.5 * (1.0 + std::erf(x * kInvSqrt2));
        const double pdf = std::exp(-0.5 * x * x) * kInvSqrt2Pi;
        dinp[i] += static_cast<float>(dout[i] * (cdf + x * pdf));
    }
}

}  // namespace qforge::kernels::cpu
