// What is here: the dispatchers of kernels/rmsnorm.h (argument checks, then the backend).
#include "kernels/rmsnorm.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

void rmsnorm_forward(const Ctx& ctx, float* out, float* rstd, const float* inp, const float* weight,
                     int64_t N, int64_t C, float eps) {
    constexpr std::string_view op = "rmsnorm_forward";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    QF_CHECK(eps >= 0.0f, "{}: expected eps >= 0, got {}", op, eps);
    check_ptr(op, "out", out, N > 0);
    check_ptr(op, "inp", inp, N > 0);
    check_ptr(op, "weight", weight);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::rmsnorm_forward(ctx.stream, out, rstd, inp, weight, N, C, eps);
#else
            break;
#endif
    }
    throw_unsupported(Op::kRmsnormForward, ctx.device);
}

void rmsnorm_forward_bf16(const Ctx& ctx, uint16_t* out, int64_t ld_out, float* rstd,
                          const float* inp, const float* weight, int64_t N, int64_t C, float eps) {
    constexpr std::string_view op = "rmsnorm_forward_bf16";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    check_size(op, "ld_out (>= C)", ld_out, C);
    QF_CHECK(eps >= 0.0f, "{}: expected eps >= 0, got {}", op, eps);
    check_ptr(op, "out", out, N > 0);
    check_ptr(op, "inp", inp, N > 0);
    check_ptr(op, "weight", weight);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::rmsnorm_forward_bf16(out, ld_out, rstd, inp, weight, N, C, eps);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::rmsnorm_forward_bf16(ctx.stream, out, ld_out, rstd, inp, weight, N, C,
                                              eps);
#else
            break;
#endif
    }
    throw_unsupported(Op::kRmsnormForwardBf16, ctx.device);
}

void rmsnorm_backward(const Ctx& ctx, float* dinp, float* dweight, const float* dout,
                      const float* inp, const float* weight, const float* rstd, int64_t N,
                      int64_t C) {
    constexpr std::string_view op = "rmsnorm_backward";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    check_ptr(op, "dout", dout, N > 0);
    check_ptr(op, "inp", inp, N > 0);
    check_ptr(op, "weight", weight);
    check_ptr(op, "rstd (saved by rmsnorm_forward)", rstd, N > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::rmsnorm_backward(ctx.stream, dinp, dweight, dout, inp, weight, rstd, N, C);
#else
            break;
#endif
    }
    throw_unsupported(Op::kRmsnormBackward, ctx.device);
}

}  // namespace qforge::kernels
