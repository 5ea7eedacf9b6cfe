// What is here: the dispatchers of kernels/gelu.h (argument checks, then the backend).
#include "kernels/gelu.h"

#include "kernels/check_args.h"
#include "kernels/cpu/encoder_ops.h"

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
            break;
    }
    QF_FAIL("{}: the CUDA backend has no kernel for this op yet", op);
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
            break;
    }
    QF_FAIL("{}: the CUDA backend has no kernel for this op yet", op);
}

}  // namespace qforge::kernels
