// What is here: dense GEMM, C = alpha * op(A) @ op(B) + beta * C, row-major (BLAS semantics:
// with beta == 0, C is written without being read).
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/gemm_math.h"

namespace qforge::kernels {

// op(A) is (M,K): A is (M,K) with row stride lda, or (K,M) when trans_a. op(B) is (K,N): B is
// (K,N) with row stride ldb, or (N,K) when trans_b. C is (M,N) with row stride ldc.
void gemm(const Ctx& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc);

// gemm over bf16 operands (their 16 bits), with fp32 products and accumulation and an fp32 C:
// the same shapes, strides and beta semantics. CUDA: cuBLASLt bf16 tensor cores; CPU: the
// operands widened to fp32 (exactly) and the fp32 reference.
void gemm_bf16(const Ctx& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
               float beta, float* C, int64_t ldc);

// gemm_bf16 with beta 1, out of place: D = alpha op(A) op(B) + R, where R is (M,N) with D's row
// stride ldd (R == D is allowed: then it is gemm_bf16 with beta 1). For a residual add that builds
// a new stream value from the old one without first copying it. CUDA: cuBLASLt reading C from R
// and writing D; CPU: R copied into D, then gemm_bf16 with beta 1.
void gemm_bf16_add(const Ctx& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                   const float* R, float* D, int64_t ldd);

// gemm_bf16 with the result rounded to bf16 (RNE) as it is stored: C = bf16(alpha op(A) op(B)),
// written, never read (no beta). For activations that are only read again as bf16 (GEMM operands,
// the bf16 SwiGLU). CUDA: cuBLASLt with a bf16 D; CPU: gemm_bf16 into fp32, then rounded
// (kernels/bf16_bits.h). K = 0 writes zeros.
void gemm_bf16_to_bf16(const Ctx& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                       uint16_t* C, int64_t ldc);

// How gemm (and linear, which calls it) rounds on the CUDA backend, for every later call in the
// process; kTf32 by default. The CPU backend always computes in fp32.
void set_cuda_gemm_math(GemmMath math);
GemmMath cuda_gemm_math();

}  // namespace qforge::kernels
