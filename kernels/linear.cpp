// What is here: the dispatchers of kernels/linear.h (argument checks, then the backend).
#include "kernels/linear.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/dense.h"
#include "kernels/gemm.h"
#include "kernels/registry.h"

namespace qforge::kernels {

void linear_forward(const Ctx& ctx, float* out, const float* inp, const float* weight,
                    const float* bias, int64_t N, int64_t C, int64_t OC) {
    constexpr std::string_view op = "linear_forward";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    check_size(op, "OC", OC, 1);
    check_ptr(op, "out", out, N > 0);
    check_ptr(op, "inp", inp, N > 0);
    check_ptr(op, "weight", weight);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::linear_forward(out, inp, weight, bias, N, C, OC);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            // out = inp @ weight^T (+ bias)
            gemm(ctx, false, true, N, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
            if (bias != nullptr) {
                cuda::bias_add_rows(ctx.stream, out, bias, N, OC);
            }
            return;
#else
            break;
#endif
    }
    throw_unsupported(Op::kLinearForward, ctx.device);
}

void linear_backward(const Ctx& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int64_t N, int64_t C, int64_t OC) {
    constexpr std::string_view op = "linear_backward";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    check_size(op, "OC", OC, 1);
    check_ptr(op, "dout", dout, N > 0);
    check_ptr(op, "weight (needed for dinp)", weight, dinp != nullptr);
    check_ptr(op, "inp (needed for dweight)", inp, dweight != nullptr && N > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::linear_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (dinp != nullptr) {  // dinp (N,C) += dout (N,OC) @ weight (OC,C)
                gemm(ctx, false, false, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
            }
            if (dweight != nullptr) {  // dweight (OC,C) += dout^T @ inp (N,C)
                gemm(ctx, true, false, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
            }
            if (dbias != nullptr && N > 0) {
                cuda::bias_grad(ctx.stream, dbias, dout, N, OC);
            }
            return;
#else
            break;
#endif
    }
    throw_unsupported(Op::kLinearBackward, ctx.device);
}

}  // namespace qforge::kernels
