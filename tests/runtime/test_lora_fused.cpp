// The fused bf16 projection (runtime/model/lora_fused.h) against the fp32 projection of
// lora_ops.h (the spec), on the CPU backend whose bf16 ops are the reference twins of the CUDA
// ones: an NF4 base with LoRA, odd sizes, with and without dropout; y, u, dx, dA and dB by
// relative error at bf16 tolerance; the bf16-output forms against the fp32 ones rounded. The GPU
// runs the same code in the train-step tests.
#include <cmath>
#include <gtest/gtest.h>

#include "kernels/bf16.h"
#include "runtime/model/lora_fused.h"
#include "runtime/model/nf4_weight.h"
#include "support/test_support.h"

namespace qforge {
namespace {

double rel_l2(const std::vector<float>& want, const std::vector<float>& got) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double d = static_cast<double>(got[i]) - want[i];
        num += d * d;
        den += static_cast<double>(want[i]) * want[i];
    }
    return std::sqrt(num / den);
}

struct Case {
    int64_t out, in, r, N;
    float dropout;
};

void check_case(const Case& c) {
    const kernels::Ctx ctx;
    auto w_values = test::random_floats(static_cast<std::size_t>(c.out * c.in), -0.5f, 0.5f, 1);
    const Tensor w_tensor = Tensor::from_blob(w_values.data(), {c.out, c.in}, DType::kF32, nullptr);
    const Nf4Weight nf4 = Nf4Weight::quantize(w_tensor);
    std::vector<float> w_deq(w_values.size());
    nf4.dequantize(w_deq.data());
    const auto A = test::random_floats(static_cast<std::size_t>(c.r * c.in), -0.3f, 0.3f, 2);
    const auto B = test::random_floats(static_cast<std::size_t>(c.out * c.r), -0.3f, 0.3f, 3);
    const auto x = test::random_floats(static_cast<std::size_t>(c.N * c.in), -1.0f, 1.0f, 4);
    const auto dy = test::random_floats(static_cast<std::size_t>(c.N * c.out), -1.0f, 1.0f, 5);
    const auto y0 = test::random_floats(static_cast<std::size_t>(c.N * c.out), -1.0f, 1.0f, 6);
    const auto dx0 = test::random_floats(static_cast<std::size_t>(c.N * c.in), -1.0f, 1.0f, 7);
    const auto dA0 = test::random_floats(A.size(), -0.1f, 0.1f, 8);
    const auto dB0 = test::random_floats(B.size(), -0.1f, 0.1f, 9);

    LoraProjection p{};
    p.W = w_deq.data();
    p.A = A.data();
    p.B = B.data();
    p.in = c.in;
    p.out = c.out;
    p.r = c.r;
    p.scale = 2.0f / static_cast<float>(c.r);
    p.dropout = c.dropout;
    p.seed = 17;
    p.key = 5;

    // the spec
    std::vector<float> y_ref = y0, u_ref(static_cast<std::size_t>(c.N * c.r));
    std::vector<float> dx_ref = dx0, dA_ref = dA0, dB_ref = dB0;
    DeviceArray<float> xd(ctx, 0), du(ctx, 0);
    lora_projection_forward(ctx, p, y_ref.data(), x.data(), c.N, 0.5f, u_ref.data(), xd);
    lora_projection_backward(ctx, p, dx_ref.data(), dA_ref.data(), dB_ref.data(), dy.data(),
                             x.data(), u_ref.data(), c.N, du, xd);

    // fused
    ProjectionOnDevice w;
    w.rows = c.out;
    w.cols = c.in;
    w.nf4 = true;
    w.nf4_view = nf4.view();
    PackedProjection pk;
    pack_projection(ctx, w, p, pk);
    EXPECT_EQ(pk.m.ld % 8, 0);
    EXPECT_EQ(pk.m.rows, c.out + c.r);
    Bf16Rows xs, dys, us;
    stage_bf16_rows(ctx, xs, x.data(), c.N, c.in, c.r);
    std::vector<float> y = y0, u(u_ref.size()), dx = dx0, dA = dA0, dB = dB0;
    fused_projection_forward(ctx, p, pk, y.data(), x.data(), xs, c.N, 0.5f, u.data(), xd);
    stage_bf16_rows(ctx, xs, x.data(), c.N, c.in, 0);
    fused_projection_backward(ctx, p, pk, dx.data(), dA.data(), dB.data(), dy.data(), x.data(), xs,
                              u.data(), c.N, 1.0f, dys, us, du, xd);

    // bf16 operands (8-bit mantissa): errors of a few 1e-3 relative
    EXPECT_LT(rel_l2(y_ref, y), 1e-2);
    EXPECT_LT(rel_l2(u_ref, u), 1e-2);
    // the accumulators' initial values are part of both sides: compare what was added
    auto added = [](const std::vector<float>& v, const std::vector<float>& v0) {
        std::vector<float> d(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) {
            d[i] = v[i] - v0[i];
        }
        return d;
    };
    EXPECT_LT(rel_l2(added(dx_ref, dx0), added(dx, dx0)), 1e-2);
    EXPECT_LT(rel_l2(added(dA_ref, dA0), added(dA, dA0)), 1e-2);
    EXPECT_LT(rel_l2(added(dB_ref, dB0), added(dB, dB0)), 1e-2);

    // dx_beta 0 writes dx without reading it (NaN there must not leak through)
    std::vector<float> dx_new(dx0.size(), std::nanf("")), dA2 = dA0, dB2 = dB0;
    fused_projection_backward(ctx, p, pk, dx_new.data(), dA2.data(), dB2.data(), dy.data(),
                              x.data(), xs, u.data(), c.N, 0.0f, dys, us, du, xd);
    EXPECT_LT(rel_l2(added(dx_ref, dx0), dx_new), 1e-2);

    if (c.dropout > 0.0f) {
        return;  // the bf16 outputs below are taken without dropout only
    }
    // bf16 outputs: the fp32 results (beta 0) rounded, bit for bit (the same fp32 sums on the CPU)
    auto rounded = [&](const std::vector<float>& v) {
        std::vector<uint16_t> r(v.size());
        const auto n = static_cast<int64_t>(v.size());
        kernels::convert_to_bf16(ctx, r.data(), n, v.data(), n, 1, n, 1.0f);
        return r;
    };
    std::vector<float> y_f32(y0.size(), std::nanf("")), u2(u_ref.size());
    std::vector<uint16_t> y16(y0.size());
    stage_bf16_rows(ctx, xs, x.data(), c.N, c.in, c.r);
    fused_projection_forward(ctx, p, pk, y_f32.data(), x.data(), xs, c.N, 0.0f, u2.data(), xd);
    stage_bf16_rows(ctx, xs, x.data(), c.N, c.in, c.r);
    fused_projection_forward_to_bf16(ctx, p, pk, y16.data(), x.data(), xs, c.N, u2.data(), xd);
    EXPECT_EQ(y16, rounded(y_f32));
    std::vector<uint16_t> dx16(dx0.size());
    std::vector<float> dA3 = dA0, dB3 = dB0;
    fused_projection_backward(ctx, p, pk, nullptr, dA3.data(), dB3.data(), dy.data(), x.data(), xs,
                              u.data(), c.N, 0.0f, dys, us, du, xd, dx16.data());
    EXPECT_EQ(dx16, rounded(dx_new));
    EXPECT_EQ(dA3, dA2);  // the LoRA gradients do not depend on how dx is stored
    EXPECT_EQ(dB3, dB2);
}

TEST(LoraFused, MatchesFp32ProjectionOnNf4Base) {
    check_case({64, 128, 8, 24, 0.0f});
}

TEST(LoraFused, OddSizesWithDropout) {
    check_case({19, 37, 3, 11, 0.25f});
}

TEST(LoraFused, OddSizesWithoutDropout) {
    check_case({40, 21, 5, 9, 0.0f});
}

TEST(LoraFused, StagingPadsRowsToEightElements) {
    const kernels::Ctx ctx;
    const auto x = test::random_floats(3 * 5, -1.0f, 1.0f);
    Bf16Rows rows;
    stage_bf16_rows(ctx, rows, x.data(), 3, 5, 2);
    EXPECT_EQ(rows.ld, 8);
    EXPECT_EQ(rows.rows, 3);
    stage_bf16_rows(ctx, rows, x.data(), 1, 15, 2);
    EXPECT_EQ(rows.ld, 24);
}

}  // namespace
}  // namespace qforge
