// What is here: the dispatchers of kernels/lora_thin.h (argument checks, then the backend).
#include "kernels/lora_thin.h"

#include <algorithm>

#include "kernels/check_args.h"
#include "kernels/cpu/lora_thin.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/lora_thin.h"
#endif

namespace qforge::kernels {

void lora_down_bf16(const Ctx& ctx, int64_t N, int64_t K, int64_t R, const uint16_t* x, int64_t ldx,
                    const uint16_t* w, int64_t w_stride_r, int64_t w_stride_k, float alpha,
                    float* y, int64_t ldy, uint16_t* y16, int64_t ldy16) {
    constexpr std::string_view op = "lora_down_bf16";
    check_size(op, "N", N, 0);
    check_size(op, "K", K, 0);
    check_size(op, "R", R, 1);
    check_size(op, "ldx (>= K)", ldx, std::max<int64_t>(1, K));
    check_size(op, "w_stride_r", w_stride_r, 1);
    check_size(op, "w_stride_k", w_stride_k, 1);
    QF_CHECK(y != nullptr || y16 != nullptr, "{}: y and y16 are both null (at least one output)",
             op);
    if (y != nullptr) {
        check_size(op, "ldy (>= R)", ldy, R);
    }
    if (y16 != nullptr) {
        check_size(op, "ldy16 (>= R)", ldy16, R);
    }
    check_ptr(op, "x", x, N > 0 && K > 0);
    check_ptr(op, "w", w, N > 0 && K > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::lora_down_bf16(N, K, R, x, ldx, w, w_stride_r, w_stride_k, alpha, y, ldy,
                                       y16, ldy16);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (N == 0) {
                return;
            }
            QF_CHECK(R <= kLoraThinMaxRank || K == 0 || (w_stride_k == 1 && w_stride_r >= K) ||
                         (w_stride_r == 1 && w_stride_k >= R),
                     "{}: with R = {} > {} (the cuBLASLt path) w must be row-major (R, K) or "
                     "(K, R): w_stride_k == 1 and w_stride_r >= K, or w_stride_r == 1 and "
                     "w_stride_k >= R; got w_stride_r {}, w_stride_k {}",
                     op, R, kLoraThinMaxRank, w_stride_r, w_stride_k);
            return cuda::lora_down_bf16(ctx.stream, N, K, R, x, ldx, w, w_stride_r, w_stride_k,
                                        alpha, y, ldy, y16, ldy16);
#else
            break;
#endif
    }
    throw_unsupported(Op::kLoraDownBf16, ctx.device);
}

void lora_grad_bf16(const Ctx& ctx, int64_t N, int64_t M, int64_t R, const uint16_t* d, int64_t ldd,
                    const uint16_t* x, int64_t ldx, float alpha, float* out, int64_t out_stride_r,
                    int64_t out_stride_m) {
    constexpr std::string_view op = "lora_grad_bf16";
    check_size(op, "N", N, 0);
    check_size(op, "M", M, 0);
    check_size(op, "R", R, 1);
    check_size(op, "ldd (>= R)", ldd, R);
    check_size(op, "ldx (>= M)", ldx, std::max<int64_t>(1, M));
    check_size(op, "out_stride_r", out_stride_r, 1);
    check_size(op, "out_stride_m", out_stride_m, 1);
    const bool work = N > 0 && M > 0;
    check_ptr(op, "d", d, work);
    check_ptr(op, "x", x, work);
    check_ptr(op, "out", out, work);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::lora_grad_bf16(N, M, R, d, ldd, x, ldx, alpha, out, out_stride_r,
                                       out_stride_m);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!work) {
                return;
            }
            QF_CHECK(R <= kLoraThinMaxRank || (out_stride_m == 1 && out_stride_r >= M) ||
                         (out_stride_r == 1 && out_stride_m >= R),
                     "{}: with R = {} > {} (the cuBLASLt path) out must be row-major (R, M) or "
                     "(M, R): out_stride_m == 1 and out_stride_r >= M, or out_stride_r == 1 and "
                     "out_stride_m >= R; got out_stride_r {}, out_stride_m {}",
                     op, R, kLoraThinMaxRank, out_stride_r, out_stride_m);
            return cuda::lora_grad_bf16(ctx.stream, N, M, R, d, ldd, x, ldx, alpha, out,
                                        out_stride_r, out_stride_m);
#else
            break;
#endif
    }
    throw_unsupported(Op::kLoraGradBf16, ctx.device);
}

}  // namespace qforge::kernels
