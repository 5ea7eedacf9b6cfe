// What is here: the dispatchers of kernels/swiglu.h (argument checks, then the backend).
#include "kernels/swiglu.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

void swiglu_forward(const Ctx& ctx, float* out, const float* gate, const float* up, int64_t n) {
    constexpr std::string_view op = "swiglu_forward";
    check_size(op, "n", n, 0);
    check_ptr(op, "out", out, n > 0);
    check_ptr(op, "gate", gate, n > 0);
    check_ptr(op, "up", up, n > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::swiglu_forward(out, gate, up, n);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::swiglu_forward(ctx.stream, out, gate, up, n);
#else
            break;
#endif
    }
    throw_unsupported(Op::kSwigluForward, ctx.device);
}

void swiglu_backward(const Ctx& ctx, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n) {
    constexpr std::string_view op = "swiglu_backward";
    check_size(op, "n", n, 0);
    check_ptr(op, "dout", dout, n > 0);
    check_ptr(op, "gate", gate, n > 0);
    check_ptr(op, "up", up, n > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::swiglu_backward(dgate, dup, dout, gate, up, n);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::swiglu_backward(ctx.stream, dgate, dup, dout, gate, up, n);
#else
            break;
#endif
    }
    throw_unsupported(Op::kSwigluBackward, ctx.device);
}

}  // namespace qforge::kernels
