// What is here: the dispatchers of rope_forward/rope_backward (argument checks, then the backend).
#include "kernels/rope.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

namespace {

void check_rope_args(std::string_view op, const float* x, const int32_t* pos, const float* cos,
                     const float* sin, int64_t N, int64_t H, int64_t D) {
    check_size(op, "N", N, 0);
    check_size(op, "H", H, 1);
    check_size(op, "D", D, 2);
    QF_CHECK(D % 2 == 0, "{}: head_dim D must be even (rotate_half pairs i with i + D/2), got {}",
             op, D);
    check_ptr(op, "x", x, N > 0);
    check_ptr(op, "pos", pos, N > 0);
    check_ptr(op, "cos", cos, N > 0);
    check_ptr(op, "sin", sin, N > 0);
}

}  // namespace

void rope_forward(const Ctx& ctx, float* x, const int32_t* pos, const float* cos, const float* sin,
                  int64_t N, int64_t H, int64_t D) {
    check_rope_args("rope_forward", x, pos, cos, sin, N, H, D);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::rope_forward(x, pos, cos, sin, N, H, D);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::rope_rotate(ctx.stream, x, pos, cos, sin, N, H, D, 1.0f);
#else
            break;
#endif
    }
    throw_unsupported(Op::kRopeForward, ctx.device);
}

void rope_backward(const Ctx& ctx, float* dx, const int32_t* pos, const float* cos,
                   const float* sin, int64_t N, int64_t H, int64_t D) {
    check_rope_args("rope_backward", dx, pos, cos, sin, N, H, D);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::rope_backward(dx, pos, cos, sin, N, H, D);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::rope_rotate(ctx.stream, dx, pos, cos, sin, N, H, D, -1.0f);
#else
            break;
#endif
    }
    throw_unsupported(Op::kRopeBackward, ctx.device);
}

}  // namespace qforge::kernels
