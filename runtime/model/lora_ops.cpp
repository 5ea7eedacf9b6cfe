// What is here: lora_projection_forward/backward (see lora_ops.h). With u = drop(x) A^T:
//   y   = x W^T + s u B^T
//   dB += s dy^T u            dU = s dy B
//   dA += dU^T drop(x)        dx += dy W + drop^T(dU A)
// drop() is inverted dropout with a stateless mask, recomputed here rather than stored.
#include "runtime/model/lora_ops.h"

#include "kernels/dropout.h"
#include "kernels/gemm.h"

namespace qforge {

using kernels::gemm;

const float* dropped_input(const kernels::Ctx& ctx, const LoraProjection& p, const float* x,
                           int64_t N, DeviceArray<float>& xd) {
    if (p.dropout <= 0.0f) {
        return x;
    }
    xd.ensure(N * p.in);
    kernels::dropout_forward(ctx, xd.data(), x, N * p.in, p.dropout, p.seed, p.key);
    return xd.data();
}

LoraProjection lora_projection_of(const FrozenLinear& weight, std::vector<float>& scratch,
                                  const LoraAdapter* adapter, int64_t layer, int t) {
    LoraProjection p{};
    p.W = weight.weights(scratch);
    p.in = weight.cols();
    p.out = weight.rows();
    if (adapter != nullptr) {
        const auto& s = adapter->slot(layer, static_cast<LoraTarget>(t));
        if (s.enabled) {
            p.A = adapter->params().data() + s.a_offset;
            p.B = adapter->params().data() + s.b_offset;
            p.r = adapter->options().r;
            p.scale = adapter->scale();
        }
    }
    return p;
}

void lora_projection_forward(const kernels::Ctx& ctx, const LoraProjection& p, float* y,
                             const float* x, int64_t N, float beta, float* u,
                             DeviceArray<float>& xd) {
    if (y != nullptr) {
        gemm(ctx, false, true, N, p.out, p.in, 1.0f, x, p.in, p.W, p.in, beta, y, p.out);
    }
    if (p.A == nullptr || N == 0) {
        return;
    }
    float* uu = u;
    if (uu == nullptr) {  // inference: u is not kept (dropout is off, so xd is free)
        QF_CHECK(p.dropout <= 0.0f, "lora_projection_forward: dropout needs a u buffer");
        xd.ensure(N * p.r);
        uu = xd.data();
    }
    const float* xin = dropped_input(ctx, p, x, N, xd);
    gemm(ctx, false, true, N, p.r, p.in, 1.0f, xin, p.in, p.A, p.in, 0.0f, uu, p.r);
    if (y == nullptr) {
        return;
    }
    gemm(ctx, false, true, N, p.out, p.r, p.scale, uu, p.r, p.B, p.r, 1.0f, y, p.out);
}

void lora_projection_backward(const kernels::Ctx& ctx, const LoraProjection& p, float* dx,
                              float* dA, float* dB, const float* dy, const float* x, const float* u,
                              int64_t N, DeviceArray<float>& du, DeviceArray<float>& xd) {
    if (N == 0) {
        return;
    }
    if (dx != nullptr) {  // base: dx += dy W
        gemm(ctx, false, false, N, p.in, p.out, 1.0f, dy, p.out, p.W, p.in, 1.0f, dx, p.in);
    }
    if (p.A == nullptr) {
        return;
    }
    du.ensure(N * p.r);
    // dB += s dy^T u ; dU = s dy B
    gemm(ctx, true, false, p.out, p.r, N, p.scale, dy, p.out, u, p.r, 1.0f, dB, p.r);
    gemm(ctx, false, false, N, p.r, p.out, p.scale, dy, p.out, p.B, p.r, 0.0f, du.data(), p.r);
    // dA += dU^T drop(x)
    const float* xin = dropped_input(ctx, p, x, N, xd);
    gemm(ctx, true, false, p.r, p.in, N, 1.0f, du.data(), p.r, xin, p.in, 1.0f, dA, p.in);
    if (dx == nullptr) {
        return;
    }
    if (p.dropout <= 0.0f) {  // dx += dU A
        gemm(ctx, false, false, N, p.in, p.r, 1.0f, du.data(), p.r, p.A, p.in, 1.0f, dx, p.in);
        return;
    }
    xd.ensure(N * p.in);
    gemm(ctx, false, false, N, p.in, p.r, 1.0f, du.data(), p.r, p.A, p.in, 0.0f, xd.data(), p.in);
    kernels::dropout_backward(ctx, dx, xd.data(), N * p.in, p.dropout, p.seed, p.key);
}

}  // namespace qforge
