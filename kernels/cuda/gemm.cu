// What is here: gemm_f32, gemm_bf16, gemm_bf16_add and gemm_bf16_to_bf16 (kernels/cuda/dense.h),
// the row-major GEMMs of kernels/gemm.h on cuBLASLt. Row-major C (M,N) is column-major C^T (N,M),
// and C^T = op(B)^T op(A)^T, so the call swaps the operands and keeps every leading dimension as it
// is (the transposition trick). kBf16 first rounds the stored A and B to bf16 into per-stream
// scratch (rows padded to 8 elements, 16 bytes, so tensor-core kernels apply to any shape).
// gemm_bf16 hands its bf16 operands to cuBLASLt as they are (no copy), with fp32 compute and an
// fp32 C; gemm_bf16_to_bf16 does the same with a bf16 D, which cuBLASLt rounds to nearest even.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/cublaslt.h"
#include "kernels/cuda/dense.h"
#include "kernels/cuda/scratch.h"

namespace qforge::kernels::cuda {

namespace {

// One thread per element of C (M,N); beta == 0 writes zeros without reading C.
__global__ void scale_rows_kernel(float* C, int64_t M, int64_t N, int64_t ldc, float beta) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= M * N) {
        return;
    }
    float* c = C + (i / N) * ldc + i % N;
    *c = beta == 0.0f ? 0.0f : beta * *c;
}

// One thread per element of the dense (rows, ld_out) bf16 copy; columns >= cols become zero.
__global__ void to_bf16_kernel(__nv_bfloat16* out, const float* in, int64_t rows, int64_t cols,
                               int64_t ld_in, int64_t ld_out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= rows * ld_out) {
        return;
    }
    const int64_t r = i / ld_out, c = i % ld_out;
    out[i] = __float2bfloat16_rn(c < cols ? in[r * ld_in + c] : 0.0f);
}

unsigned blocks_for(int64_t n, int threads) {
    return static_cast<unsigned>((n + threads - 1) / threads);
}

// Rounds the stored (rows, cols) matrix with row stride ld to bf16 scratch; returns its row stride.
int64_t stage_bf16(cudaStream_t stream, ScratchSlot slot, const float* in, int64_t rows,
                   int64_t cols, int64_t ld, const void** out) {
    const int64_t ld_out = (cols + 7) / 8 * 8;
    auto* dst = static_cast<__nv_bfloat16*>(
        stream_scratch(stream, slot, static_cast<size_t>(rows * ld_out) * sizeof(__nv_bfloat16)));
    to_bf16_kernel<<<blocks_for(rows * ld_out, 256), 256, 0, stream>>>(dst, in, rows, cols, ld,
                                                                       ld_out);
    QF_CUDA_LAUNCH_CHECK();
    *out = dst;
    return ld_out;
}

// The column-major matmul C^T = op(B)^T op(A)^T of the row-major C = alpha op(A) op(B) + beta C.
LtMatmul swapped(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const void* A, int64_t lda, const void* B, int64_t ldb, float beta, void* C,
                 int64_t ldc) {
    LtMatmul mm{};
    mm.trans_a = trans_b;  // cuBLAS's A is our B
    mm.trans_b = trans_a;
    mm.m = N;
    mm.n = M;
    mm.k = K;
    mm.A = B;
    mm.lda = ldb;
    mm.B = A;
    mm.ldb = lda;
    mm.C = C;
    mm.ldc = ldc;
    mm.alpha = alpha;
    mm.beta = beta;
    return mm;
}

// K == 0: op(A) op(B) is all zeros, so C = beta C (beta == 0 writes zeros without reading C).
void scale_c(cudaStream_t s, float* C, int64_t M, int64_t N, int64_t ldc, float beta) {
    scale_rows_kernel<<<blocks_for(M * N, 256), 256, 0, s>>>(C, M, N, ldc, beta);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace

void gemm_f32(void* stream, GemmMath math, bool trans_a, bool trans_b, int64_t M, int64_t N,
              int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
              float beta, float* C, int64_t ldc) {
    const auto s = static_cast<cudaStream_t>(stream);
    if (M == 0 || N == 0) {
        return;
    }
    if (K == 0) {
        return scale_c(s, C, M, N, ldc, beta);
    }
    LtMatmul mm = swapped(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    mm.ab_type = CUDA_R_32F;
    mm.compute = math == GemmMath::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    if (math == GemmMath::kBf16) {
        mm.ab_type = CUDA_R_16BF;
        // Stored (row-major) shapes: A is (M,K) or (K,M); B is (K,N) or (N,K).
        mm.ldb =
            stage_bf16(s, ScratchSlot::kGemmA, A, trans_a ? K : M, trans_a ? M : K, lda, &mm.B);
        mm.lda =
            stage_bf16(s, ScratchSlot::kGemmB, B, trans_b ? N : K, trans_b ? K : N, ldb, &mm.A);
    }
    cublaslt_matmul(stream, mm);
}

void gemm_bf16(void* stream, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
               float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) {
        return;
    }
    if (K == 0) {
        return scale_c(static_cast<cudaStream_t>(stream), C, M, N, ldc, beta);
    }
    LtMatmul mm = swapped(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    mm.ab_type = CUDA_R_16BF;
    mm.compute = CUBLAS_COMPUTE_32F;
    cublaslt_matmul(stream, mm);
}

void gemm_bf16_add(void* stream, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                   const float* R, float* D, int64_t ldd) {
    const auto s = static_cast<cudaStream_t>(stream);
    if (M == 0 || N == 0) {
        return;
    }
    if (K == 0) {  // op(A) op(B) is all zeros: D = R
        if (R != D) {
            QF_CUDA_CHECK(cudaMemcpy2DAsync(D, static_cast<size_t>(ldd) * sizeof(float), R,
                                            static_cast<size_t>(ldd) * sizeof(float),
                                            static_cast<size_t>(N) * sizeof(float),
                                            static_cast<size_t>(M), cudaMemcpyDeviceToDevice, s));
        }
        return;
    }
    LtMatmul mm = swapped(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 1.0f, D, ldd);
    mm.c_in = R;
    mm.ab_type = CUDA_R_16BF;
    mm.compute = CUBLAS_COMPUTE_32F;
    cublaslt_matmul(stream, mm);
}

void gemm_bf16_to_bf16(void* stream, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                       uint16_t* C, int64_t ldc) {
    const auto s = static_cast<cudaStream_t>(stream);
    if (M == 0 || N == 0) {
        return;
    }
    if (K == 0) {  // op(A) op(B) is all zeros: the (M,N) block of C becomes +0 (bits 0)
        QF_CUDA_CHECK(cudaMemset2DAsync(C, static_cast<size_t>(ldc) * sizeof(uint16_t), 0,
                                        static_cast<size_t>(N) * sizeof(uint16_t),
                                        static_cast<size_t>(M), s));
        return;
    }
    LtMatmul mm = swapped(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 0.0f, C, ldc);
    mm.ab_type = CUDA_R_16BF;
    mm.c_type = CUDA_R_16BF;
    mm.compute = CUBLAS_COMPUTE_32F;
    cublaslt_matmul(stream, mm);
}

}  // namespace qforge::kernels::cuda
