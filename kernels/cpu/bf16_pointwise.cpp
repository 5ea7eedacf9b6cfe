// CPU reference for the bf16-output twins of swiglu_forward, swiglu_backward (kernels/swiglu.h)
// and rmsnorm_forward (kernels/rmsnorm.h): each value is the fp32 op's (the shared formulas of
// kernels/cpu/pointwise_math.h) rounded to nearest even by kernels/bf16_bits.h, written into a
// strided bf16 matrix whose columns past the row length are left alone. The swiglu twins read
// bf16 inputs and widen them exactly (bf16_bits_to_f32) before the fp32 formulas.
//   gate, up, dh: (N, F) contiguous bf16; h, dgate, dup: (N, F) with row stride ld (>= F)
//   inp: (N, C) contiguous; out: (N, C) with row stride ld_out (>= C); rstd: (N) or nullptr
#include "kernels/bf16_bits.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/pointwise_math.h"

namespace qforge::kernels::cpu {

void swiglu_forward_bf16(uint16_t* h, int64_t ld_h, const uint16_t* gate, const uint16_t* up,
                         int64_t N, int64_t F) {
#pragma omp parallel for if (N * F >= kParallelMinWork)
    for (int64_t r = 0; r < N; r++) {
        for (int64_t c = 0; c < F; c++) {
            const int64_t i = r * F + c;
            h[r * ld_h + c] =
                f32_to_bf16_bits(swiglu_value(bf16_bits_to_f32(gate[i]), bf16_bits_to_f32(up[i])));
        }
    }
}

void swiglu_backward_bf16(uint16_t* dgate, uint16_t* dup, int64_t ld, const uint16_t* dh,
                          const uint16_t* gate, const uint16_t* up, int64_t N, int64_t F) {
#pragma omp parallel for if (N * F >= kParallelMinWork)
    for (int64_t r = 0; r < N; r++) {
        for (int64_t c = 0; c < F; c++) {
            const int64_t i = r * F + c;
            const SwigluGrads d = swiglu_grads(bf16_bits_to_f32(dh[i]), bf16_bits_to_f32(gate[i]),
                                               bf16_bits_to_f32(up[i]));
            dgate[r * ld + c] = f32_to_bf16_bits(d.dgate);
            dup[r * ld + c] = f32_to_bf16_bits(d.dup);
        }
    }
}

void swiglu_backward_bf16_lora(uint16_t* dgate, uint16_t* dup, int64_t ld, const uint16_t* dh,
                               const uint16_t* gate, const uint16_t* up, int64_t N, int64_t F,
                               const uint16_t* du, int64_t ld_du, int64_t R, float* dA,
                               int64_t ld_a) {
    swiglu_backward_bf16(dgate, dup, ld, dh, gate, up, N, F);
    // dA's column c sums over the rows in order, in fp32 (columns in parallel)
#pragma omp parallel for if (N * F * R >= kParallelMinWork)
    for (int64_t c = 0; c < F; c++) {
        for (int64_t j = 0; j < R; j++) {
            float s = 0.0f;
            for (int64_t r = 0; r < N; r++) {
                const int64_t i = r * F + c;
                const float h = bf16_bits_to_f32(f32_to_bf16_bits(
                    swiglu_value(bf16_bits_to_f32(gate[i]), bf16_bits_to_f32(up[i]))));
                s += bf16_bits_to_f32(du[r * ld_du + j]) * h;
            }
            dA[j * ld_a + c] += s;
        }
    }
}

void rmsnorm_forward_bf16(uint16_t* out, int64_t ld_out, float* rstd, const float* inp,
                          const float* weight, int64_t N, int64_t C, float eps) {
#pragma omp parallel for if (N * C >= kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        const double s = rmsnorm_row_scale(x, C, eps);
        uint16_t* y = out + n * ld_out;
        for (int64_t c = 0; c < C; c++) {
            y[c] = f32_to_bf16_bits(rmsnorm_value(x[c], s, weight[c]));
        }
        if (rstd != nullptr) {
            rstd[n] = static_cast<float>(s);
        }
    }
}

}  // namespace qforge::kernels::cpu
