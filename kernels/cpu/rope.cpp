// CPU reference for rotary position embedding, Hugging Face "rotate_half" convention:
// within each head, element i pairs with element i + D/2 (not the interleaved (2i, 2i+1) pairs
// of Meta's original Llama code: HF checkpoints permute q/k weights to suit rotate_half).
// N = token rows, H = heads, D = head_dim; angles come from the tables of rope_tables().
//   forward:  (x1, x2) <- (x1*c - x2*s, x2*c + x1*s)      = R x
//   backward: (g1, g2) <- (g1*c + g2*s, g2*c - g1*s)      = R^T g   (in place, not +=)
// Left out on purpose: partial rotary dims (rotary_dim < D) and interleaved pairing.
#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

namespace {

// x is (N,H,D); cos, sin are (T_max, D/2), indexed by pos (N). sign = +1 rotates by +angle
// (forward), -1 by -angle (backward: R^T = R(-angle)).
void rope_rotate(float* x, const int32_t* pos, const float* cos, const float* sin, int64_t N,
                 int64_t H, int64_t D, double sign, const char* op) {
    const int64_t half = D / 2;
    for (int64_t n = 0; n < N; n++) {
        QF_CHECK(pos[n] >= 0, "{}: pos[{}] = {} is negative", op, n, pos[n]);
    }
#pragma omp parallel for collapse(2) if (N * H * D >= kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t h = 0; h < H; h++) {
            float* xh = x + (n * H + h) * D;
            const float* c_row = cos + static_cast<int64_t>(pos[n]) * half;
            const float* s_row = sin + static_cast<int64_t>(pos[n]) * half;
            for (int64_t i = 0; i < half; i++) {
                const double c = c_row[i];
                const double s = sign * s_row[i];
                const double x1 = xh[i];
                const double x2 = xh[i + half];
                xh[i] = static_cast<float>(x1 * c - x2 * s);
                xh[i + half] = static_cast<float>(x2 * c + x1 * s);
            }
        }
    }
}

}  // namespace

void rope_forward(float* x, const int32_t* pos, const float* cos, const float* sin, int64_t N,
                  int64_t H, int64_t D) {
    rope_rotate(x, pos, cos, sin, N, H, D, 1.0, "rope_forward");
}

void rope_backward(float* dx, const int32_t* pos, const float* cos, const float* sin, int64_t N,
                   int64_t H, int64_t D) {
    rope_rotate(dx, pos, cos, sin, N, H, D, -1.0, "rope_backward");
}

}  // namespace qforge::kernels::cpu
