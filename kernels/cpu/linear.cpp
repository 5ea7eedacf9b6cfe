// CPU reference for the linear layer in nn.Linear layout (weight is (OC,C)), built on cpu::gemm.
// N = token rows, C = input channels, OC = output channels.
//   forward:  out   = inp @ W^T + b
//   backward: dinp += dout @ W;  dW += dout^T @ inp;  db += sum over rows of dout
// Gradients are accumulated (+=) and each may be nullptr (a frozen base weight gets no dW).
#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

// out is (N,OC); inp is (N,C); weight is (OC,C); bias is (OC) or nullptr
void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t N,
                    int64_t C, int64_t OC) {
    gemm(false, true, N, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
    if (bias == nullptr) {
        return;
    }
#pragma omp parallel for if (N * OC >= kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t o = 0; o < OC; o++) {
            out[n * OC + o] += bias[o];
        }
    }
}

// dinp is (N,C); dweight is (OC,C); dbias is (OC); dout is (N,OC); all gradients accumulated
void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int64_t N, int64_t C, int64_t OC) {
    if (dinp != nullptr) {
        gemm(false, false, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
    }
    if (dweight != nullptr) {
        gemm(true, false, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    }
    if (dbias != nullptr) {
#pragma omp parallel for if (N * OC >= kParallelMinWork)
        for (int64_t o = 0; o < OC; o++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++) {
                acc += dout[n * OC + o];
            }
            dbias[o] += static_cast<float>(acc);
        }
    }
}

}  // namespace qforge::kernels::cpu
