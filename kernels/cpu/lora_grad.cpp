// CPU reference for lora_dy_products (kernels/lora_grad.h): bf16 operands widened exactly to
// fp32, fp32 products and sums in index order.
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

void lora_dy_products(const uint16_t* dy, int64_t ld_dy, const uint16_t* sb, int64_t ld_sb,
                      const float* u, int64_t ld_u, int64_t N, int64_t Out, int64_t R, float scale,
                      float* du, uint16_t* du_bf16, int64_t ld_du, float* dB) {
#pragma omp parallel for if (N * Out * R >= kParallelMinWork)
    for (int64_t i = 0; i < N; i++) {
        for (int64_t j = 0; j < R; j++) {
            float sum = 0.0f;
            for (int64_t o = 0; o < Out; o++) {
                sum += bf16_bits_to_f32(dy[i * ld_dy + o]) * bf16_bits_to_f32(sb[o * ld_sb + j]);
            }
            du[i * R + j] = sum;
            if (du_bf16 != nullptr) {
                du_bf16[i * ld_du + j] = f32_to_bf16_bits(sum);
            }
        }
    }
    std::vector<float> u16(static_cast<size_t>(N * R));
    for (int64_t i = 0; i < N; i++) {
        for (int64_t j = 0; j < R; j++) {
            u16[static_cast<size_t>(i * R + j)] =
                bf16_bits_to_f32(f32_to_bf16_bits(u[i * ld_u + j]));
        }
    }
#pragma omp parallel for if (N * Out * R >= kParallelMinWork)
    for (int64_t o = 0; o < Out; o++) {
        for (int64_t j = 0; j < R; j++) {
            float sum = 0.0f;
            for (int64_t i = 0; i < N; i++) {
                sum += bf16_bits_to_f32(dy[i * ld_dy + o]) * u16[static_cast<size_t>(i * R + j)];
            }
            dB[o * R + j] += scale * sum;
        }
    }
}

}  // namespace qforge::kernels::cpu
