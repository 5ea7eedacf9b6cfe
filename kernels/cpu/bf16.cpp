// CPU reference for the bf16 operand ops: convert_to_bf16 and convert_from_bf16 (kernels/bf16.h,
// the widening keeps every bit: out bits = in << 16, NaN payloads included), nf4_dequantize_bf16
// (kernels/nf4.h), gemm_bf16 and gemm_bf16_to_bf16 (kernels/gemm.h). Rounding is
// kernels/bf16_bits.h (round to nearest even, NaN -> 0x7FFF), the rule CUDA's __float2bfloat16_rn
// follows, so the two conversions are bit-identical across backends. gemm_bf16 widens its operands
// to fp32 (exact) and calls the fp32 reference: products and sums are then those of fp32 BLAS;
// gemm_bf16_to_bf16 rounds that fp32 result.
#include <algorithm>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cpu/ops.h"

namespace qforge::kernels::cpu {

namespace {

// The stored (rows, cols) bf16 matrix with row stride ld, widened into a dense fp32 copy.
std::vector<float> widen(const uint16_t* in, int64_t rows, int64_t cols, int64_t ld) {
    std::vector<float> out(static_cast<size_t>(rows * cols));
#pragma omp parallel for if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            out[static_cast<size_t>(r * cols + c)] = bf16_bits_to_f32(in[r * ld + c]);
        }
    }
    return out;
}

}  // namespace

// in (rows, cols; row stride ld_in) -> out (rows, cols; row stride ld_out), bf16(scale * in)
void convert_to_bf16(uint16_t* out, int64_t ld_out, const float* in, int64_t ld_in, int64_t rows,
                     int64_t cols, float scale) {
#pragma omp parallel for if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            out[r * ld_out + c] = f32_to_bf16_bits(scale * in[r * ld_in + c]);
        }
    }
}

// in (rows, cols; row stride ld_in) -> out (rows, cols; row stride ld_out), the exact fp32 values
void convert_from_bf16(float* out, int64_t ld_out, const uint16_t* in, int64_t ld_in, int64_t rows,
                       int64_t cols) {
#pragma omp parallel for if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            out[r * ld_out + c] = bf16_bits_to_f32(in[r * ld_in + c]);
        }
    }
}

// The values of nf4_dequantize (the same two fp32 roundings for an absmax, one for a value),
// each rounded to bf16 and written at (i / cols, i % cols) of out (row stride ld_out).
void nf4_dequantize_bf16(uint16_t* out, int64_t ld_out, const Nf4View& w, int64_t cols) {
    const int64_t N = w.numel;
    const int64_t B = (N + kNf4BlockSize - 1) / kNf4BlockSize;
#pragma omp parallel for if (N > 32768)
    for (int64_t b = 0; b < B; b++) {
        const float scaled =
            w.nested_code[w.absmax_q[b]] * w.nested_absmax[b / kNf4NestedBlockSize];
        const float absmax = scaled + w.offset;
        const int64_t begin = b * kNf4BlockSize;
        const int64_t end = std::min(begin + kNf4BlockSize, N);
        int64_t r = begin / cols, c = begin % cols;
        for (int64_t i = begin; i < end; i++) {
            const uint8_t byte = w.packed[i / 2];
            const int q = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0F);
            out[r * ld_out + c] = f32_to_bf16_bits(w.code[q] * absmax);
            if (++c == cols) {
                c = 0;
                r++;
            }
        }
    }
}

// gemm over the widened operands; shapes and strides as in gemm.
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C,
               int64_t ldc) {
    if (M == 0 || N == 0 || K == 0) {  // nothing to widen: gemm scales C by beta (or returns)
        return gemm(trans_a, trans_b, M, N, K, alpha, nullptr,
                    std::max<int64_t>(1, trans_a ? M : K), nullptr,
                    std::max<int64_t>(1, trans_b ? K : N), beta, C, ldc);
    }
    // Stored (row-major) shapes: A is (M,K) or (K,M); B is (K,N) or (N,K).
    const int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    const int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    const std::vector<float> a = widen(A, a_rows, a_cols, lda);
    const std::vector<float> b = widen(B, b_rows, b_cols, ldb);
    gemm(trans_a, trans_b, M, N, K, alpha, a.data(), a_cols, b.data(), b_cols, beta, C, ldc);
}

// gemm_bf16 into a dense fp32 (M,N) temporary (beta 0), then C = bf16 of each value.
void gemm_bf16_to_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, uint16_t* C,
                       int64_t ldc) {
    if (M == 0 || N == 0) {
        return;
    }
    std::vector<float> c(static_cast<size_t>(M * N));
    gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 0.0f, c.data(), N);
    convert_to_bf16(C, ldc, c.data(), N, M, N, 1.0f);
}

}  // namespace qforge::kernels::cpu
