// What is here: the dispatchers of kernels/adamw.h and kernels/dropout.h.
#include "kernels/cpu/train_ops.h"

#include "kernels/adamw.h"
#include "kernels/check_args.h"
#include "kernels/dropout.h"

namespace qforge::kernels {

namespace {
[[noreturn]] void no_cuda(std::string_view op) {
    QF_FAIL("{}: the CUDA backend does not implement this op yet", op);
}
}  // namespace

void adamw_update(const Ctx& ctx, float* param, const float* grad, float* m, float* v, int64_t n,
                  const AdamWParams& p) {
    constexpr std::string_view op = "adamw_update";
    check_size(op, "n", n, 0);
    check_size(op, "step", p.step, 1);
    QF_CHECK(p.lr >= 0.0f && p.beta1 >= 0.0f && p.beta1 < 1.0f && p.beta2 >= 0.0f &&
                 p.beta2 < 1.0f && p.eps > 0.0f,
             "{}: expected lr >= 0, 0 <= beta1, beta2 < 1, eps > 0; got lr={} beta1={} beta2={} "
             "eps={}",
             op, p.lr, p.beta1, p.beta2, p.eps);
    if (ctx.device == Device::kCpu) {
        return cpu::adamw_update(param, grad, m, v, n, p);
    }
    no_cuda(op);
}

double sum_of_squares(const Ctx& ctx, const float* x, int64_t n) {
    check_size("sum_of_squares", "n", n, 0);
    if (ctx.device == Device::kCpu) {
        return cpu::sum_of_squares(x, n);
    }
    no_cuda("sum_of_squares");
}

void dropout_forward(const Ctx& ctx, float* out, const float* inp, int64_t n, float p,
                     uint64_t seed, uint64_t key) {
    QF_CHECK(p >= 0.0f && p < 1.0f, "dropout_forward: expected 0 <= p < 1, got {}", p);
    if (ctx.device == Device::kCpu) {
        return cpu::dropout_forward(out, inp, n, p, seed, key);
    }
    no_cuda("dropout_forward");
}

void dropout_backward(const Ctx& ctx, float* dinp, const float* dout, int64_t n, float p,
                      uint64_t seed, uint64_t key) {
    QF_CHECK(p >= 0.0f && p < 1.0f, "dropout_backward: expected 0 <= p < 1, got {}", p);
    if (ctx.device == Device::kCpu) {
        return cpu::dropout_backward(dinp, dout, n, p, seed, key);
    }
    no_cuda("dropout_backward");
}

}  // namespace qforge::kernels
