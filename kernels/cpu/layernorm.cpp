// CPU reference for LayerNorm (torch.nn.LayerNorm over the last dim, as BERT uses it): the
// specification a CUDA kernel would be tested against. Plain loops, reductions in double.
// N = token rows, C = channels. Left out on purpose: no elementwise_affine=False variant (pass
// weight = ones), no RMS-only mode (that is kernels/rmsnorm).
//
// Forward: xhat = (x - mean) * rstd, rstd = (var + eps)^(-1/2) with the biased variance,
//   y = xhat * w + b.
// Backward: dxhat = dy * w;
//   dx_i = rstd * (dxhat_i - mean_j(dxhat_j) - xhat_i * mean_j(dxhat_j * xhat_j))
//   dw_i = sum over rows of dy_i * xhat_i,  db_i = sum over rows of dy_i
// All gradients are accumulated (+=), the llm.c convention (see kernels/cpu/rmsnorm.cpp).
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

// out, inp are (N,C); weight, bias (C), bias may be nullptr; mean, rstd (N) kept for backward
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps) {
#pragma omp parallel for if (N * C >= kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        double sum = 0.0;
        for (int64_t c = 0; c < C; c++) {
            sum += x[c];
        }
        const double m = sum / static_cast<double>(C);
        double sum_sq = 0.0;  // two passes: exact even when |mean| >> std
        for (int64_t c = 0; c < C; c++) {
            const double d = x[c] - m;
            sum_sq += d * d;
        }
        const double s = 1.0 / std::sqrt(sum_sq / static_cast<double>(C) + eps);
        float* y = out + n * C;
        for (int64_t c = 0; c < C; c++) {
            const double b = bias != nullptr ? bias[c] : 0.0;
            y[c] = static_cast<float>((x[c] - m) * s * weight[c] + b);
        }
        if (mean != nullptr) {
            mean[n] = static_cast<float>(m);
        }
        if (rstd != nullptr) {
            rstd[n] = static_cast<float>(s);
        }
    }
}

// dinp, dout, inp are (N,C); dinp, dweight (C), dbias (C) accumulate; each may be nullptr
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int64_t N, int64_t C) {
    if (dinp != nullptr) {
#pragma omp parallel for if (N * C >= kParallelMinWork)
        for (int64_t n = 0; n < N; n++) {
            const float* x = inp + n * C;
            const float* dy = dout + n * C;
            const double m = mean[n], s = rstd[n];
            double mean_dxhat = 0.0, mean_dxhat_xhat = 0.0;
            for (int64_t c = 0; c < C; c++) {
                const double dxhat = static_cast<double>(dy[c]) * weight[c];
                mean_dxhat += dxhat;
                mean_dxhat_xhat += dxhat * (x[c] - m) * s;
            }
            mean_dxhat /= static_cast<double>(C);
            mean_dxhat_xhat /= static_cast<double>(C);
            float* dx = dinp + n * C;
            for (int64_t c = 0; c < C; c++) {
                const double dxhat = static_cast<double>(dy[c]) * weight[c];
                const double xhat = (x[c] - m) * s;
                dx[c] += static_cast<float>(s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
            }
        }
    }
    if (dweight != nullptr || dbias != nullptr) {
        // A pass over channels, so that no two threads add into the same element.
#pragma omp parallel for if (N * C >= kParallelMinWork)
        for (int64_t c = 0; c < C; c++) {
            double acc_w = 0.0, acc_b = 0.0;
            for (int64_t n = 0; n < N; n++) {
                const double dy = dout[n * C + c];
                acc_w += dy * (inp[n * C + c] - static_cast<double>(mean[n])) * rstd[n];
                acc_b += dy;
            }
            if (dweight != nullptr) {
                dweight[c] += static_cast<float>(acc_w);
            }
            if (dbias != nullptr) {
                dbias[c] += static_cast<float>(acc_b);
            }
        }
    }
}

}  // namespace qforge::kernels::cpu
