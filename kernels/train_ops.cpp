// What is here: the dispatchers of kernels/adamw.h and kernels/dropout.h (argument checks, then
// the backend).
#include <cmath>

#include "kernels/adamw.h"
#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/dropout.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

void adamw_update(const Ctx& ctx, float* param, const float* grad, float* m, float* v, int64_t n,
                  const AdamWParams& p) {
    constexpr std::string_view op = "adamw_update";
    check_size(op, "n", n, 0);
    check_size(op, "step", p.step, 1);
    check_ptr(op, "param", param, n > 0);
    check_ptr(op, "grad", grad, n > 0);
    check_ptr(op, "m", m, n > 0);
    check_ptr(op, "v", v, n > 0);
    QF_CHECK(p.lr >= 0.0f && p.beta1 >= 0.0f && p.beta1 < 1.0f && p.beta2 >= 0.0f &&
                 p.beta2 < 1.0f && p.eps > 0.0f,
             "{}: expected lr >= 0, 0 <= beta1, beta2 < 1, eps > 0; got lr={} beta1={} beta2={} "
             "eps={}",
             op, p.lr, p.beta1, p.beta2, p.eps);
    // torch.optim.AdamW refuses a negative weight_decay too.
    QF_CHECK(p.weight_decay >= 0.0f && std::isfinite(p.weight_decay),
             "{}: expected a finite weight_decay >= 0, got {}", op, p.weight_decay);
    QF_CHECK(std::isfinite(p.grad_scale), "{}: expected a finite grad_scale, got {}", op,
             p.grad_scale);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::adamw_update(param, grad, m, v, n, p);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::adamw_update(
                ctx.stream, param, grad, m, v, n, p.lr, p.beta1, p.beta2, p.eps, p.weight_decay,
                p.grad_scale,
                1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(p.step)),
                1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(p.step)));
#else
            break;
#endif
    }
    throw_unsupported(Op::kAdamwUpdate, ctx.device);
}

double sum_of_squares(const Ctx& ctx, const float* x, int64_t n) {
    constexpr std::string_view op = "sum_of_squares";
    check_size(op, "n", n, 0);
    check_ptr(op, "x", x, n > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::sum_of_squares(x, n);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::sum_of_squares(ctx.stream, x, n);
#else
            break;
#endif
    }
    throw_unsupported(Op::kSumOfSquares, ctx.device);
}

void dropout_forward(const Ctx& ctx, float* out, const float* inp, int64_t n, float p,
                     uint64_t seed, uint64_t key) {
    constexpr std::string_view op = "dropout_forward";
    check_size(op, "n", n, 0);
    check_ptr(op, "out", out, n > 0);
    check_ptr(op, "inp", inp, n > 0);
    QF_CHECK(p >= 0.0f && p < 1.0f, "{}: expected 0 <= p < 1, got {}", op, p);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::dropout_forward(out, inp, n, p, seed, key);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::dropout_forward(ctx.stream, out, inp, n, p, 1.0f / (1.0f - p), seed, key);
#else
            break;
#endif
    }
    throw_unsupported(Op::kDropoutForward, ctx.device);
}

void dropout_backward(const Ctx& ctx, float* dinp, const float* dout, int64_t n, float p,
                      uint64_t seed, uint64_t key) {
    constexpr std::string_view op = "dropout_backward";
    check_size(op, "n", n, 0);
    check_ptr(op, "dinp", dinp, n > 0);
    check_ptr(op, "dout", dout, n > 0);
    QF_CHECK(p >= 0.0f && p < 1.0f, "{}: expected 0 <= p < 1, got {}", op, p);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::dropout_backward(dinp, dout, n, p, seed, key);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::dropout_backward(ctx.stream, dinp, dout, n, p, 1.0f / (1.0f - p), seed,
                                          key);
#else
            break;
#endif
    }
    throw_unsupported(Op::kDropoutBackward, ctx.device);
}

}  // namespace qforge::kernels
