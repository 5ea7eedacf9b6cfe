// What is here: the dispatchers of kernels/cross_entropy.h (argument checks, then the backend).
#include "kernels/cross_entropy.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

void cross_entropy_forward(const Ctx& ctx, float* losses, float* lse, const float* logits,
                           const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index,
                           IndexCheck check) {
    constexpr std::string_view op = "cross_entropy_forward";
    check_size(op, "N", N, 0);
    check_size(op, "V", V, 1);
    check_ptr(op, "losses", losses, N > 0);
    check_ptr(op, "logits", logits, N > 0);
    check_ptr(op, "targets", targets, N > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::cross_entropy_forward(losses, lse, logits, targets, N, V, ignore_index);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
        {
            const cuda::BadIndex bad =
                cuda::cross_entropy_forward(ctx.stream, losses, lse, logits, targets, N, V,
                                            ignore_index, check == IndexCheck::kWait);
            QF_CHECK(bad.index < 0,
                     "cross_entropy_forward: targets[{}] = {} is neither ignore_index ({}) nor in "
                     "[0, V={})",
                     bad.index, bad.value, ignore_index, V);
            return;
        }
#else
            break;
#endif
    }
    throw_unsupported(Op::kCrossEntropyForward, ctx.device);
}

void cross_entropy_backward(const Ctx& ctx, float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, const float* dloss, int64_t N, int64_t V,
                            int32_t ignore_index) {
    constexpr std::string_view op = "cross_entropy_backward";
    check_size(op, "N", N, 0);
    check_size(op, "V", V, 1);
    check_ptr(op, "dlogits", dlogits, N > 0);
    check_ptr(op, "logits", logits, N > 0);
    check_ptr(op, "targets", targets, N > 0);
    check_ptr(op, "dloss", dloss, N > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::cross_entropy_backward(dlogits, logits, lse, targets, dloss, N, V,
                                               ignore_index);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::cross_entropy_backward(ctx.stream, dlogits, logits, lse, targets, dloss, N,
                                                V, ignore_index);
#else
            break;
#endif
    }
    throw_unsupported(Op::kCrossEntropyBackward, ctx.device);
}

void cross_entropy_backward_bf16(const Ctx& ctx, uint16_t* dlogits, int64_t ld, const float* logits,
                                 const float* lse, const int32_t* targets, const float* dloss,
                                 int64_t N, int64_t V, int32_t ignore_index) {
    constexpr std::string_view op = "cross_entropy_backward_bf16";
    check_size(op, "N", N, 0);
    check_size(op, "V", V, 1);
    QF_CHECK(ld >= V, "{}: expected ld >= V ({}), got {}", op, V, ld);
    check_ptr(op, "dlogits", dlogits, N > 0);
    check_ptr(op, "logits", logits, N > 0);
    check_ptr(op, "targets", targets, N > 0);
    check_ptr(op, "dloss", dloss, N > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::cross_entropy_backward_bf16(dlogits, ld, logits, lse, targets, dloss, N, V,
                                                    ignore_index);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::cross_entropy_backward_bf16(ctx.stream, dlogits, ld, logits, lse, targets,
                                                     dloss, N, V, ignore_index);
#else
            break;
#endif
    }
    throw_unsupported(Op::kCrossEntropyBackward, ctx.device);
}

}  // namespace qforge::kernels
