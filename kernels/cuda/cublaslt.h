// What is here: cublaslt_matmul, one column-major cuBLASLt matmul D = alpha op(A) op(B) + beta C
// (D = C in place, or out of place from c_in; fp32 or bf16) with the handle, the 32 MiB workspace
// and the algorithm choice looked after: one cublasLtHandle per device (created on first use), one
// workspace per stream, and the algorithm (autotuned among the heuristic's top candidates, see
// kernels/gemm_math.h) cached per shape, leading dimensions, types and operand alignments. Used by
// kernels/cuda/gemm.cu, which maps row-major calls onto it. Include from .cu files only.
#pragma once

#include <cstdint>

#include <cublasLt.h>

namespace qforge::kernels::cuda {

struct LtMatmul {
    cudaDataType_t ab_type;              // CUDA_R_32F or CUDA_R_16BF (A and B)
    cudaDataType_t c_type = CUDA_R_32F;  // C/D: CUDA_R_32F or CUDA_R_16BF
    cublasComputeType_t compute;         // CUBLAS_COMPUTE_32F or CUBLAS_COMPUTE_32F_FAST_TF32
    bool trans_a, trans_b;               // op(A), op(B)
    int64_t m, n, k;                     // op(A) is (m,k), op(B) is (k,n), C is (m,n); all > 0
    const void* A;
    int64_t lda;  // A is (m,k) column-major, or (k,m) when trans_a
    const void* B;
    int64_t ldb;  // B is (k,n) column-major, or (n,k) when trans_b
    void* C;      // of c_type: D, and the C that beta scales unless c_in is given
    int64_t ldc;
    const void* c_in = nullptr;  // when given: the C read (same type and layout), D = C written
    float alpha, beta;           // beta == 0: C is not read
};

void cublaslt_matmul(void* stream, const LtMatmul& mm);

// The workspace size given to every matmul (bytes).
constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

}  // namespace qforge::kernels::cuda
