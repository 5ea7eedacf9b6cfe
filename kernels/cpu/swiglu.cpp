// CPU reference for SwiGLU (the gate of the Llama MLP): out = silu(gate) * up, elementwise over
// n values, with silu(g) = g * sigmoid(g). Computed in double per element, stored as float.
//   backward: dgate += dout * up * sigmoid(g) * (1 + g * (1 - sigmoid(g)))
//             dup   += dout * silu(g)
// Left out on purpose: a fused gate/up layout (the caller passes two separate arrays).
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

namespace {

double sigmoid(double x) {
    return 1.0 / (1.0 + std::exp(-x));
}

}  // namespace

// out, gate, up are (n)
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
#pragma omp parallel for if (n >= kParallelMinWork)
    for (int64_t i = 0; i < n; i++) {
        const double g = gate[i];
        out[i] = static_cast<float>(g * sigmoid(g) * up[i]);
    }
}

// dgate, dup, dout, gate, up are (n); dgate and dup are accumulated and may be nullptr
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n) {
#pragma omp parallel for if (n >= kParallelMinWork)
    for (int64_t i = 0; i < n; i++) {
        const double g = gate[i];
        const double sg = sigmoid(g);
        if (dgate != nullptr) {
            dgate[i] += static_cast<float>(dout[i] * up[i] * sg * (1.0 + g * (1.0 - sg)));
        }
        if (dup != nullptr) {
            dup[i] += static_cast<float>(dout[i] * g * sg);
        }
    }
}

}  // namespace qforge::kernels::cpu
