// CPU reference for RMSNorm (Llama's LlamaRMSNorm): the specification the CUDA kernel is tested
// against. Plain loops, reductions accumulated in double. N = token rows, C = channels.
// Left out on purpose: the (1 + weight) Gemma variant and a bias (Llama has neither).
//
// Backward: with y = x * rstd * w and rstd = (mean(x^2) + eps)^(-1/2),
//   dx_i = rstd * w_i * dy_i - x_i * rstd^3 / C * sum_j(dy_j * w_j * x_j)
//   dw_i = sum over rows of dy_i * x_i * rstd
// Both are accumulated (+=): callers zero the gradients once per step (llm.c convention), which
// lets a residual stream's gradient arrive from several ops.
#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/pointwise_math.h"

namespace qforge::kernels::cpu {

// out, inp are (N,C); weight is (C); rstd is (N), kept for backward (may be nullptr)
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N,
                     int64_t C, float eps) {
#pragma omp parallel for if (N * C >= kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        const double s = rmsnorm_row_scale(x, C, eps);
        float* y = out + n * C;
        for (int64_t c = 0; c < C; c++) {
            y[c] = rmsnorm_value(x[c], s, weight[c]);
        }
        if (rstd != nullptr) {
            rstd[n] = static_cast<float>(s);
        }
    }
}

// dinp, dout, inp are (N,C); dinp and dweight (C) are accumulated, and either may be nullptr
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int64_t N, int64_t C) {
    if (dinp != nullptr) {
#pragma omp parallel for if (N * C >= kParallelMinWork)
        for (int64_t n = 0; n < N; n++) {
            const float* x = inp + n * C;
            const float* dy = dout + n * C;
            const double s = rstd[n];
            double dot = 0.0;  // sum_j dy_j * w_j * x_j
            for (int64_t c = 0; c < C; c++) {
                dot += static_cast<double>(dy[c]) * weight[c] * x[c];
            }
            const double coef = s * s * s * dot / static_cast<double>(C);
            float* dx = dinp + n * C;
            for (int64_t c = 0; c < C; c++) {
                dx[c] += static_cast<float>(s * weight[c] * dy[c] - x[c] * coef);
            }
        }
    }
    if (dweight != nullptr) {
        // A pass over channels, so that no two threads add into the same dweight element.
#pragma omp parallel for if (N * C >= kParallelMinWork)
        for (int64_t c = 0; c < C; c++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++) {
                acc += static_cast<double>(dout[n * C + c]) * inp[n * C + c] * rstd[n];
            }
            dweight[c] += static_cast<float>(acc);
        }
    }
}

}  // namespace qforge::kernels::cpu
