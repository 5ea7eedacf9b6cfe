// What is here: the dispatchers of kernels/gelu.h (argument checks, then the backend).
#include "kernels/gelu.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

void gelu_forward(const Ctx& ctx, float* out, const float* inp, int64_t n) {
    constexpr std::string_view op = "gelu_forward";
    check_size(op, "n", n, 0);
    check_ptr(op, "out", out, n > 0);
    check_ptr(op, "inp", inp, n > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::gelu_forward(out, inp, n);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::gelu_forward(ctx.stream, out, inp, n);
#else
            break;
#endif
    }
    throw_unsupported(Op::kGeluForward, ctx.device);
}

void gelu_backward(const Ctx& ctx, float* dinp, const float* dout, const float* inp, int64_t n) {
    constexpr std::string_view op = "gelu_backward";
    check_size(op, "n", n, 0);
    check_ptr(op, "dinp", dinp, n > 0);
    check_ptr(op, "dout", dout, n > 0);
    check_ptr(op, "inp", inp, n > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::gelu_backward(dinp, dout, inp, n);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::gelu_backward(ctx.stream, dinp, dout, inp, n);
#else
            break;
#endif
    }
    throw_unsupported(Op::kGeluBackward, ctx.device);
}

}  // namespace qforge::kernels
