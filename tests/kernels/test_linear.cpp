// What is here: linear (nn.Linear layout) forward against naive loops, and its backward against
// finite differences of the forward, including the += convention and nullptr gradients.
#include <gtest/gtest.h>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/linear.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::linear_backward;
using kernels::linear_forward;

constexpr int64_t N = 5, C = 33, OC = 17;

TEST(Linear, ForwardMatchesNaive) {
    const auto inp = random_floats(N * C, -1, 1, 1);
    const auto weight = random_floats(OC * C, -1, 1, 2);
    const auto bias = random_floats(OC, -1, 1, 3);
    for (const bool with_bias : {false, true}) {
        std::vector<float> out(N * OC);
        linear_forward(kCpuCtx, out.data(), inp.data(), weight.data(),
                       with_bias ? bias.data() : nullptr, N, C, OC);
        for (int64_t n = 0; n < N; n++) {
            for (int64_t o = 0; o < OC; o++) {
                double want = with_bias ? bias[o] : 0.0;
                for (int64_t c = 0; c < C; c++) {
                    want += static_cast<double>(inp[n * C + c]) * weight[o * C + c];
                }
                ASSERT_NEAR(out[n * OC + o], want, 1e-5)
                    << "out[" << n << "," << o << "] bias=" << with_bias;
            }
        }
    }
}

TEST(Linear, BackwardMatchesFiniteDifferences) {
    auto inp = random_floats(N * C, -1, 1, 1);
    auto weight = random_floats(OC * C, -1, 1, 2);
    auto bias = random_floats(OC, -1, 1, 3);
    const auto w = random_floats(N * OC, -1, 1, 4);  // loss = sum w * out
    auto loss = [&] {
        std::vector<float> out(N * OC);
        linear_forward(kCpuCtx, out.data(), inp.data(), weight.data(), bias.data(), N, C, OC);
        return dot(out, w);
    };
    // Gradients start from random values: the op must add to them, not overwrite.
    const auto dinp0 = random_floats(N * C, -1, 1, 5);
    const auto dweight0 = random_floats(OC * C, -1, 1, 6);
    const auto dbias0 = random_floats(OC, -1, 1, 7);
    auto dinp = dinp0, dweight = dweight0, dbias = dbias0;
    linear_backward(kCpuCtx, dinp.data(), dweight.data(), dbias.data(), w.data(), inp.data(),
                    weight.data(), N, C, OC);
    EXPECT_LT(rel_error(added(dinp, dinp0), numeric_gradient(inp, loss)), kFdTolerance);
    EXPECT_LT(rel_error(added(dweight, dweight0), numeric_gradient(weight, loss)), kFdTolerance);
    EXPECT_LT(rel_error(added(dbias, dbias0), numeric_gradient(bias, loss)), kFdTolerance);

    // Frozen weight and no bias: dinp alone, identical to the full call's dinp.
    auto dinp_only = dinp0;
    linear_backward(kCpuCtx, dinp_only.data(), nullptr, nullptr, w.data(), nullptr, weight.data(),
                    N, C, OC);
    EXPECT_EQ(dinp_only, dinp);
    auto dweight_only = dweight0;
    linear_backward(kCpuCtx, nullptr, dweight_only.data(), nullptr, w.data(), inp.data(), nullptr,
                    N, C, OC);
    EXPECT_EQ(dweight_only, dweight);
}

TEST(Linear, RejectsMissingInputs) {
    std::vector<float> buf(N * C * OC, 0.5f);
    expect_error(
        [&] { linear_forward(kCpuCtx, buf.data(), buf.data(), nullptr, nullptr, N, C, OC); },
        {"linear_forward", "weight"});
    expect_error(
        [&] {
            linear_backward(kCpuCtx, nullptr, buf.data(), nullptr, buf.data(), nullptr, buf.data(),
                            N, C, OC);
        },
        {"linear_backward", "inp"});
    expect_error(
        [&] { linear_forward(kCpuCtx, buf.data(), buf.data(), buf.data(), nullptr, N, 0, OC); },
        {"C >= 1"});
}

}  // namespace
}  // namespace qforge::test
