// CPU reference for the thin LoRA products (kernels/lora_thin.h): plain loops over the widened
// bf16 values (exact), sums in double, rounded once to fp32 (and, for y16, once more to bf16 by
// kernels/bf16_bits.h, the rule CUDA's __float2bfloat16_rn follows). It leaves out everything the
// CUDA kernels do for speed (tensor cores, split sums); they are judged against it.
//   lora_down_bf16:  x (N, K), w (R, K) through strides  ->  v (N, R) = alpha x w^T
//   lora_grad_bf16:  d (N, R), x (N, M)                  ->  out (R, M) += alpha d^T x
#include "kernels/cpu/lora_thin.h"

#include <cstddef>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

void lora_down_bf16(int64_t N, int64_t K, int64_t R, const uint16_t* x, int64_t ldx,
                    const uint16_t* w, int64_t w_stride_r, int64_t w_stride_k, float alpha,
                    float* y, int64_t ldy, uint16_t* y16, int64_t ldy16) {
#pragma omp parallel for if (N * K * R > kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t j = 0; j < R; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                acc += static_cast<double>(bf16_bits_to_f32(x[n * ldx + k])) *
                       static_cast<double>(bf16_bits_to_f32(w[j * w_stride_r + k * w_stride_k]));
            }
            const float v = static_cast<float>(static_cast<double>(alpha) * acc);
            if (y != nullptr) {
                y[n * ldy + j] = v;
            }
            if (y16 != nullptr) {
                y16[n * ldy16 + j] = f32_to_bf16_bits(v);
            }
        }
    }
}

void lora_grad_bf16(int64_t N, int64_t M, int64_t R, const uint16_t* d, int64_t ldd,
                    const uint16_t* x, int64_t ldx, float alpha, float* out, int64_t out_stride_r,
                    int64_t out_stride_m) {
    // out (R, M): each (j, m) is one dot product over the N rows, taken row by row of x so that
    // the inner loop walks x's rows contiguously.
#pragma omp parallel for if (N * M * R > kParallelMinWork)
    for (int64_t j = 0; j < R; j++) {
        std::vector<double> acc(static_cast<std::size_t>(M), 0.0);
        for (int64_t n = 0; n < N; n++) {
            const double dv = bf16_bits_to_f32(d[n * ldd + j]);
            for (int64_t m = 0; m < M; m++) {
                acc[static_cast<std::size_t>(m)] += dv * bf16_bits_to_f32(x[n * ldx + m]);
            }
        }
        for (int64_t m = 0; m < M; m++) {
            float& o = out[j * out_stride_r + m * out_stride_m];
            o = static_cast<float>(static_cast<double>(o) +
                                   static_cast<double>(alpha) * acc[static_cast<std::size_t>(m)]);
        }
    }
}

}  // namespace qforge::kernels::cpu
