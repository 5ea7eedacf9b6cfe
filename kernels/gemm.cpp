// What is here: the dispatcher of kernels/gemm.h (shape and leading-dimension checks).
#include "kernels/gemm.h"

#include <algorithm>
#include <atomic>
#include <string_view>

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/dense.h"
#include "kernels/registry.h"

namespace qforge::kernels {

namespace {

std::atomic<GemmMath>& gemm_math() {
    static std::atomic<GemmMath> math{GemmMath::kTf32};
    return math;
}

// The checks gemm, gemm_bf16 and gemm_bf16_to_bf16 share; returns whether the call has work (M, N >
// 0).
bool check_gemm_args(std::string_view op, bool trans_a, bool trans_b, int64_t M, int64_t N,
                     int64_t K, const void* A, int64_t lda, const void* B, int64_t ldb,
                     const void* C, int64_t ldc) {
    check_size(op, "M", M, 0);
    check_size(op, "N", N, 0);
    check_size(op, "K", K, 0);
    // Row-major: the leading dimension is the row stride, at least the stored row length.
    const int64_t a_cols = trans_a ? M : K;
    const int64_t b_cols = trans_b ? K : N;
    QF_CHECK(lda >= std::max<int64_t>(1, a_cols), "{}: expected lda >= {} ({}), got {}", op,
             std::max<int64_t>(1, a_cols), trans_a ? "M, A is (K,M)" : "K, A is (M,K)", lda);
    QF_CHECK(ldb >= std::max<int64_t>(1, b_cols), "{}: expected ldb >= {} ({}), got {}", op,
             std::max<int64_t>(1, b_cols), trans_b ? "K, B is (N,K)" : "N, B is (K,N)", ldb);
    QF_CHECK(ldc >= std::max<int64_t>(1, N), "{}: expected ldc >= {} (N), got {}", op,
             std::max<int64_t>(1, N), ldc);
    const bool has_work = M > 0 && N > 0;
    check_ptr(op, "A", A, has_work && K > 0);
    check_ptr(op, "B", B, has_work && K > 0);
    check_ptr(op, "C", C, has_work);
    return has_work;
}

}  // namespace

void set_cuda_gemm_math(GemmMath math) {
    gemm_math().store(math);
}

GemmMath cuda_gemm_math() {
    return gemm_math().load();
}

namespace {
std::atomic<bool>& gemm_autotune() {
    static std::atomic<bool> on{false};
    return on;
}
}  // namespace

void set_cuda_gemm_autotune(bool on) {
    gemm_autotune().store(on);
}

bool cuda_gemm_autotune() {
    return gemm_autotune().load();
}

void gemm(const Ctx& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc) {
    [[maybe_unused]] const bool has_work =
        check_gemm_args("gemm", trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!has_work) {
                return;
            }
            return cuda::gemm_f32(ctx.stream, cuda_gemm_math(), trans_a, trans_b, M, N, K, alpha, A,
                                  lda, B, ldb, beta, C, ldc);
#else
            break;
#endif
    }
    throw_unsupported(Op::kGemm, ctx.device);
}

void gemm_bf16(const Ctx& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
               float beta, float* C, int64_t ldc) {
    [[maybe_unused]] const bool has_work =
        check_gemm_args("gemm_bf16", trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!has_work) {
                return;
            }
            return cuda::gemm_bf16(ctx.stream, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb,
                                   beta, C, ldc);
#else
            break;
#endif
    }
    throw_unsupported(Op::kGemmBf16, ctx.device);
}

void gemm_bf16_add(const Ctx& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                   const float* R, float* D, int64_t ldd) {
    [[maybe_unused]] const bool has_work =
        check_gemm_args("gemm_bf16_add", trans_a, trans_b, M, N, K, A, lda, B, ldb, D, ldd);
    check_ptr("gemm_bf16_add", "R", R, has_work);
    switch (ctx.device) {
        case Device::kCpu:
            if (has_work && R != D) {
                for (int64_t i = 0; i < M; ++i) {
                    std::copy_n(R + i * ldd, N, D + i * ldd);
                }
            }
            return cpu::gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 1.0f, D, ldd);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!has_work) {
                return;
            }
            return cuda::gemm_bf16_add(ctx.stream, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb,
                                       R, D, ldd);
#else
            break;
#endif
    }
    throw_unsupported(Op::kGemmBf16, ctx.device);
}

void gemm_bf16_to_bf16(const Ctx& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                       uint16_t* C, int64_t ldc) {
    [[maybe_unused]] const bool has_work =
        check_gemm_args("gemm_bf16_to_bf16", trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::gemm_bf16_to_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!has_work) {
                return;
            }
            return cuda::gemm_bf16_to_bf16(ctx.stream, trans_a, trans_b, M, N, K, alpha, A, lda, B,
                                           ldb, C, ldc);
#else
            break;
#endif
    }
    throw_unsupported(Op::kGemmBf16ToBf16, ctx.device);
}

}  // namespace qforge::kernels
