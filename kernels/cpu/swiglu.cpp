// CPU reference for SwiGLU (the gate of the Llama MLP): out = silu(gate) * up, elementwise over
// n values, with silu(g) = g * sigmoid(g). Computed in double per element, stored as float
// (the formulas are in kernels/cpu/pointwise_math.h, shared with the bf16-output twins).
//   backward: dgate += dout * up * sigmoid(g) * (1 + g * (1 - sigmoid(g)))
//             dup   += dout * silu(g)
// Left out on purpose: a fused gate/up layout (the caller passes two separate arrays).
#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/pointwise_math.h"

namespace qforge::kernels::cpu {

// out, gate, up are (n)
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
#pragma omp parallel for if (n >= kParallelMinWork)
    for (int64_t i = 0; i < n; i++) {
        out[i] = swiglu_value(gate[i], up[i]);
    }
}

// dgate, dup, dout, gate, up are (n); dgate and dup are accumulated and may be nullptr
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n) {
#pragma omp parallel for if (n >= kParallelMinWork)
    for (int64_t i = 0; i < n; i++) {
        const SwigluGrads d = swiglu_grads(dout[i], gate[i], up[i]);
        if (dgate != nullptr) {
            dgate[i] += d.dgate;
        }
        if (dup != nullptr) {
            dup[i] += d.dup;
        }
    }
}

}  // namespace qforge::kernels::cpu
