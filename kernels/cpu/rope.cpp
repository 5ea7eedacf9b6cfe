// CPU reference for rotary position embedding, Hugging Face "rotate_half" convention:
// within each head, element i pairs with element i + D/2 (not the interleaved (2i, 2i+1) pairs
// of Meta's original Llama code: HF checkpoints permute q/k weights to suit rotate_half).
// N = token rows, H = heads, D = head_dim; angles come from the tables of rope_tables().
//   forward:  (x1, x2) <- (x1*c - x2*s, x2*c + x1*s)      = R x
//   backward: (g1, g2) <- (g1*c + g2*s, g2*c - g1*s)      = R^T g   (in place, not +=)
// The bf16 twins (rope_forward_bf16, rope_backward_to_bf16) widen bf16 inputs exactly, evaluate
// the same pair formula (rope_pair) and round each fp32 result to nearest even
// (kernels/bf16_bits.h); they read and write rows of stride ld and leave columns past H*D alone.
// The products of two floats are exact in double, so the formula's value does not depend on
// whether the compiler fuses a multiply and an add: the CUDA kernels evaluate it in double too
// and agree bit for bit.
// Left out on purpose: partial rotary dims (rotary_dim < D) and interleaved pairing.
#include "kernels/bf16_bits.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

namespace {

struct Pair {
    float first, second;
};

// One rotated pair: sign = +1 rotates by +angle (forward), -1 by -angle (backward:
// R^T = R(-angle)).
inline Pair rope_pair(float x1, float x2, float cos, float sin, double sign) {
    const double c = cos;
    const double s = sign * sin;
    const double a = x1;
    const double b = x2;
    return {static_cast<float>(a * c - b * s), static_cast<float>(b * c + a * s)};
}

void check_positions(const int32_t* pos, int64_t N, const char* op) {
    for (int64_t n = 0; n < N; n++) {
        QF_CHECK(pos[n] >= 0, "{}: pos[{}] = {} is negative", op, n, pos[n]);
    }
}

// Rotates the (N,H,D) values that load(n, h, i) reads and hands each rotated value to
// store(n, h, i, value); cos, sin are (T_max, D/2), indexed by pos (N).
template <typename Load, typename Store>
void rope_rotate(const int32_t* pos, const float* cos, const float* sin, int64_t N, int64_t H,
                 int64_t D, double sign, const char* op, Load load, Store store) {
    const int64_t half = D / 2;
    check_positions(pos, N, op);
#pragma omp parallel for collapse(2) if (N * H * D >= kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t h = 0; h < H; h++) {
            const float* c_row = cos + static_cast<int64_t>(pos[n]) * half;
            const float* s_row = sin + static_cast<int64_t>(pos[n]) * half;
            for (int64_t i = 0; i < half; i++) {
                const Pair y =
                    rope_pair(load(n, h, i), load(n, h, i + half), c_row[i], s_row[i], sign);
                store(n, h, i, y.first);
                store(n, h, i + half, y.second);
            }
        }
    }
}

// x is (N,H,D) fp32, rotated in place.
void rope_rotate_f32(float* x, const int32_t* pos, const float* cos, const float* sin, int64_t N,
                     int64_t H, int64_t D, double sign, const char* op) {
    auto at = [=](int64_t n, int64_t h, int64_t i) -> float& {
        return x[(n * H + h) * D + i];
    };
    rope_rotate(
        pos, cos, sin, N, H, D, sign, op,
        [&](int64_t n, int64_t h, int64_t i) { return at(n, h, i); },
        [&](int64_t n, int64_t h, int64_t i, float v) { at(n, h, i) = v; });
}

}  // namespace

void rope_forward(float* x, const int32_t* pos, const float* cos, const float* sin, int64_t N,
                  int64_t H, int64_t D) {
    rope_rotate_f32(x, pos, cos, sin, N, H, D, 1.0, "rope_forward");
}

void rope_backward(float* dx, const int32_t* pos, const float* cos, const float* sin, int64_t N,
                   int64_t H, int64_t D) {
    rope_rotate_f32(dx, pos, cos, sin, N, H, D, -1.0, "rope_backward");
}

// x: N rows of stride ld, each H*D bf16 words, rotated in place.
void rope_forward_bf16(uint16_t* x, int64_t ld, const int32_t* pos, const float* cos,
                       const float* sin, int64_t N, int64_t H, int64_t D) {
    rope_rotate(
        pos, cos, sin, N, H, D, 1.0, "rope_forward_bf16",
        [=](int64_t n, int64_t h, int64_t i) { return bf16_bits_to_f32(x[n * ld + h * D + i]); },
        [=](int64_t n, int64_t h, int64_t i, float v) {
            x[n * ld + h * D + i] = f32_to_bf16_bits(v);
        });
}

// dx: (N,H,D) fp32, contiguous, read only; dst: N rows of stride ld, H*D bf16 words written.
void rope_backward_to_bf16(uint16_t* dst, int64_t ld, const float* dx, const int32_t* pos,
                           const float* cos, const float* sin, int64_t N, int64_t H, int64_t D) {
    rope_rotate(
        pos, cos, sin, N, H, D, -1.0, "rope_backward_to_bf16",
        [=](int64_t n, int64_t h, int64_t i) { return dx[(n * H + h) * D + i]; },
        [=](int64_t n, int64_t h, int64_t i, float v) {
            dst[n * ld + h * D + i] = f32_to_bf16_bits(v);
        });
}

}  // namespace qforge::kernels::cpu
