// What is here: the dispatchers of kernels/swiglu.h (argument checks, then the backend).
#include "kernels/swiglu.h"

#include <algorithm>

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

void swiglu_forward_bf16(const Ctx& ctx, uint16_t* h, int64_t ld_h, const uint16_t* gate,
                         const uint16_t* up, int64_t N, int64_t F) {
    constexpr std::string_view op = "swiglu_forward_bf16";
    check_size(op, "N", N, 0);
    check_size(op, "F", F, 0);
    check_size(op, "ld_h (>= F)", ld_h, std::max<int64_t>(1, F));
    const bool work = N > 0 && F > 0;
    check_ptr(op, "h", h, work);
    check_ptr(op, "gate", gate, work);
    check_ptr(op, "up", up, work);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::swiglu_forward_bf16(h, ld_h, gate, up, N, F);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!work) {
                return;
            }
            return cuda::swiglu_forward_bf16(ctx.stream, h, ld_h, gate, up, N, F);
#else
            break;
#endif
    }
    throw_unsupported(Op::kSwigluForwardBf16, ctx.device);
}

namespace {
// The arguments both bf16 SwiGLU backwards take; true when there is work.
bool check_swiglu_backward_bf16(std::string_view op, const uint16_t* dgate, const uint16_t* dup,
                                int64_t ld, const uint16_t* dh, const uint16_t* gate,
                                const uint16_t* up, int64_t N, int64_t F) {
    check_size(op, "N", N, 0);
    check_size(op, "F", F, 0);
    check_size(op, "ld (>= F)", ld, std::max<int64_t>(1, F));
    const bool work = N > 0 && F > 0;
    check_ptr(op, "dgate", dgate, work);
    check_ptr(op, "dup", dup, work);
    check_ptr(op, "dh", dh, work);
    check_ptr(op, "gate", gate, work);
    check_ptr(op, "up", up, work);
    return work;
}
}  // namespace

void swiglu_backward_bf16(const Ctx& ctx, uint16_t* dgate, uint16_t* dup, int64_t ld,
                          const uint16_t* dh, const uint16_t* gate, const uint16_t* up, int64_t N,
                          int64_t F) {
    [[maybe_unused]] const bool work =
        check_swiglu_backward_bf16("swiglu_backward_bf16", dgate, dup, ld, dh, gate, up, N, F);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::swiglu_backward_bf16(dgate, dup, ld, dh, gate, up, N, F);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!work) {
                return;
            }
            return cuda::swiglu_backward_bf16(ctx.stream, dgate, dup, ld, dh, gate, up, N, F);
#else
            break;
#endif
    }
    throw_unsupported(Op::kSwigluBackwardBf16, ctx.device);
}

int64_t swiglu_lora_partials(int64_t N, int64_t F, int64_t R) {
#ifdef QFORGE_HAS_CUDA
    return (N + cuda::kSwigluLoraRowsPerBlock - 1) / cuda::kSwigluLoraRowsPerBlock * R * F;
#else
    (void)N, (void)F, (void)R;
    return 0;
#endif
}

void swiglu_backward_bf16_lora(const Ctx& ctx, uint16_t* dgate, uint16_t* dup, int64_t ld,
                               const uint16_t* dh, const uint16_t* gate, const uint16_t* up,
                               int64_t N, int64_t F, const uint16_t* du, int64_t ld_du, int64_t R,
                               float* dA, int64_t ld_a, [[maybe_unused]] float* partials) {
    constexpr std::string_view op = "swiglu_backward_bf16_lora";
    const bool work = check_swiglu_backward_bf16(op, dgate, dup, ld, dh, gate, up, N, F);
    check_size(op, "R", R, 1);
    QF_CHECK(R <= kSwigluLoraMaxRank, "{}: R (the LoRA rank) must be <= {}, got {}", op,
             kSwigluLoraMaxRank, R);
    check_size(op, "ld_du (>= R)", ld_du, R);
    check_size(op, "ld_a (>= F)", ld_a, std::max<int64_t>(1, F));
    check_ptr(op, "du", du, work);
    check_ptr(op, "dA", dA, work);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::swiglu_backward_bf16_lora(dgate, dup, ld, dh, gate, up, N, F, du, ld_du, R,
                                                  dA, ld_a);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!work) {
                return;
            }
            check_ptr(op, "partials", partials, true);
            return cuda::swiglu_backward_bf16_lora(ctx.stream, dgate, dup, ld, dh, gate, up, N, F,
                                                   du, ld_du, R, dA, ld_a, partials);
#else
            break;
#endif
    }
    throw_unsupported(Op::kSwigluBackwardBf16, ctx.device);
}

}  // namespace qforge::kernels
