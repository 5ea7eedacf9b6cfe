// What is here: the dispatchers of kernels/rope.h's ops (argument checks, then the backend).
#include "kernels/rope.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

namespace {

// x_name: how the op calls its rotated input ("x", "dx").
void check_rope_args(std::string_view op, const void* x, const int32_t* pos, const float* cos,
                     const float* sin, int64_t N, int64_t H, int64_t D,
                     std::string_view x_name = "x") {
    check_size(op, "N", N, 0);
    check_size(op, "H", H, 1);
    check_size(op, "D", D, 2);
    QF_CHECK(D % 2 == 0, "{}: head_dim D must be even (rotate_half pairs i with i + D/2), got {}",
             op, D);
    check_ptr(op, x_name, x, N > 0);
    check_ptr(op, "pos", pos, N > 0);
    check_ptr(op, "cos", cos, N > 0);
    check_ptr(op, "sin", sin, N > 0);
}

// The bf16 ops' row stride: at least the H * D values of a token.
void check_rope_ld(std::string_view op, int64_t ld, int64_t H, int64_t D) {
    QF_CHECK(ld >= H * D, "{}: expected row stride ld >= H * D = {} * {} = {}, got {}", op, H, D,
             H * D, ld);
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
    check_rope_args("rope_backward", dx, pos, cos, sin, N, H, D, "dx");
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

void rope_forward_bf16(const Ctx& ctx, uint16_t* x, int64_t ld, const int32_t* pos,
                       const float* cos, const float* sin, int64_t N, int64_t H, int64_t D) {
    check_rope_args("rope_forward_bf16", x, pos, cos, sin, N, H, D);
    check_rope_ld("rope_forward_bf16", ld, H, D);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::rope_forward_bf16(x, ld, pos, cos, sin, N, H, D);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::rope_forward_bf16(ctx.stream, x, ld, pos, cos, sin, N, H, D);
#else
            break;
#endif
    }
    throw_unsupported(Op::kRopeForwardBf16, ctx.device);
}

void rope_backward_to_bf16(const Ctx& ctx, uint16_t* dst, int64_t ld, const float* dx,
                           const int32_t* pos, const float* cos, const float* sin, int64_t N,
                           int64_t H, int64_t D) {
    check_rope_args("rope_backward_to_bf16", dx, pos, cos, sin, N, H, D, "dx");
    check_rope_ld("rope_backward_to_bf16", ld, H, D);
    check_ptr("rope_backward_to_bf16", "dst", dst, N > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::rope_backward_to_bf16(dst, ld, dx, pos, cos, sin, N, H, D);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::rope_backward_to_bf16(ctx.stream, dst, ld, dx, pos, cos, sin, N, H, D);
#else
            break;
#endif
    }
    throw_unsupported(Op::kRopeBackwardToBf16, ctx.device);
}

}  // namespace qforge::kernels
