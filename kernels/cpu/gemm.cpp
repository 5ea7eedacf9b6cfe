// CPU reference for GEMM: OpenBLAS cblas_sgemm (the one CPU op that is not plain loops; DESIGN.md
// makes the CPU backend's GEMM a BLAS call so that it can train small models end to end).
// Accumulation is fp32 inside BLAS, unlike the other CPU ops; tests compare GEMM against naive
// double loops (tests/kernels/test_gemm.cpp). Left out on purpose: strided-batched GEMM.
#include <cblas.h>
#include <climits>

#include "kernels/cpu/ops.h"

namespace qforge::kernels::cpu {

namespace {

blasint to_blasint(int64_t value, const char* name) {
    QF_CHECK(value <= INT_MAX, "gemm: {} = {} does not fit OpenBLAS's 32-bit blasint", name, value);
    return static_cast<blasint>(value);
}

}  // namespace

// op(A) is (M,K), op(B) is (K,N), C is (M,N); all row-major with row strides lda, ldb, ldc
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) {
        return;
    }
    if (K == 0) {
        // Nothing to multiply: C = beta * C, where beta == 0 writes zeros without reading C.
        for (int64_t m = 0; m < M; m++) {
            for (int64_t n = 0; n < N; n++) {
                float& c = C[m * ldc + n];
                c = beta == 0.0f ? 0.0f : beta * c;
            }
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, to_blasint(M, "M"), to_blasint(N, "N"),
                to_blasint(K, "K"), alpha, A, to_blasint(lda, "lda"), B, to_blasint(ldb, "ldb"),
                beta, C, to_blasint(ldc, "ldc"));
}

}  // namespace qforge::kernels::cpu
