// What is here: the dispatchers of kernels/layernorm.h (argument checks, then the backend).
#include "kernels/layernorm.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

void layernorm_forward(const Ctx& ctx, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int64_t N, int64_t C, float eps) {
    constexpr std::string_view op = "layernorm_forward";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    QF_CHECK(eps >= 0.0f, "{}: expected eps >= 0, got {}", op, eps);
    check_ptr(op, "out", out, N > 0);
    check_ptr(op, "inp", inp, N > 0);
    check_ptr(op, "weight", weight);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::layernorm_forward(ctx.stream, out, mean, rstd, inp, weight, bias, N, C,
                                           eps);
#else
            break;
#endif
    }
    throw_unsupported(Op::kLayernormForward, ctx.device);
}

void layernorm_backward(const Ctx& ctx, float* dinp, float* dweight, float* dbias,
                        const float* dout, const float* inp, const float* weight, const float* mean,
                        const float* rstd, int64_t N, int64_t C) {
    constexpr std::string_view op = "layernorm_backward";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    check_ptr(op, "dout", dout, N > 0);
    check_ptr(op, "inp", inp, N > 0);
    check_ptr(op, "weight", weight);
    check_ptr(op, "mean (saved by layernorm_forward)", mean, N > 0);
    check_ptr(op, "rstd (saved by layernorm_forward)", rstd, N > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N,
                                           C);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::layernorm_backward(ctx.stream, dinp, dweight, dbias, dout, inp, weight,
                                            mean, rstd, N, C);
#else
            break;
#endif
    }
    throw_unsupported(Op::kLayernormBackward, ctx.device);
}

}  // namespace qforge::kernels
