// What is here: RMSNorm forward against the formula in double, backward against finite
// differences of the forward (dinp and dweight, += convention, frozen weight).
#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/rmsnorm.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::rmsnorm_backward;
using kernels::rmsnorm_forward;

constexpr float kEps = 1e-5f;

class RmsnormShapes : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(RmsnormShapes, ForwardMatchesFormula) {
    const auto [N, C] = GetParam();
    const auto inp = random_floats(N * C, -2, 2, 1);
    const auto weight = random_floats(C, 0.5f, 1.5f, 2);
    std::vector<float> out(N * C), rstd(N);
    rmsnorm_forward(kCpuCtx, out.data(), rstd.data(), inp.data(), weight.data(), N, C, kEps);
    for (int64_t n = 0; n < N; n++) {
        double ms = 0.0;
        for (int64_t c = 0; c < C; c++) {
            ms += static_cast<double>(inp[n * C + c]) * inp[n * C + c];
        }
        const double r = 1.0 / std::sqrt(ms / static_cast<double>(C) + kEps);
        ASSERT_NEAR(rstd[n], r, 1e-6 * r) << "row " << n;
        for (int64_t c = 0; c < C; c++) {
            const double want = inp[n * C + c] * r * weight[c];
            ASSERT_NEAR(out[n * C + c], want, 2e-7 * std::abs(want) + 1e-12)
                << "out[" << n << "," << c << "]";
        }
    }
    // rstd is optional in the forward.
    std::vector<float> out2(N * C);
    rmsnorm_forward(kCpuCtx, out2.data(), nullptr, inp.data(), weight.data(), N, C, kEps);
    EXPECT_EQ(out2, out);
}

TEST_P(RmsnormShapes, InPlaceMatchesSeparateOutput) {
    const auto [N, C] = GetParam();
    auto inp = random_floats(N * C, -2, 2, 1);
    const auto weight = random_floats(C, 0.5f, 1.5f, 2);
    std::vector<float> out(N * C);
    rmsnorm_forward(kCpuCtx, out.data(), nullptr, inp.data(), weight.data(), N, C, kEps);
    rmsnorm_forward(kCpuCtx, inp.data(), nullptr, inp.data(), weight.data(), N, C, kEps);
    EXPECT_EQ(inp, out);
}

TEST_P(RmsnormShapes, BackwardMatchesFiniteDifferences) {
    const auto [N, C] = GetParam();
    auto inp = random_floats(N * C, -2, 2, 1);
    auto weight = random_floats(C, 0.5f, 1.5f, 2);
    const auto w = random_floats(N * C, -1, 1, 3);
    std::vector<float> out(N * C), rstd(N);
    auto loss = [&] {
        rmsnorm_forward(kCpuCtx, out.data(), nullptr, inp.data(), weight.data(), N, C, kEps);
        return dot(out, w);
    };
    rmsnorm_forward(kCpuCtx, out.data(), rstd.data(), inp.data(), weight.data(), N, C, kEps);
    const auto dinp0 = random_floats(N * C, -1, 1, 4);
    const auto dweight0 = random_floats(C, -1, 1, 5);
    auto dinp = dinp0, dweight = dweight0;
    rmsnorm_backward(kCpuCtx, dinp.data(), dweight.data(), w.data(), inp.data(), weight.data(),
                     rstd.data(), N, C);
    EXPECT_LT(rel_error(added(dinp, dinp0), numeric_gradient(inp, loss)), kFdTolerance);
    EXPECT_LT(rel_error(added(dweight, dweight0), numeric_gradient(weight, loss)), kFdTolerance);

    auto dinp_frozen = dinp0;  // frozen weight: dweight nullptr, same dinp
    rmsnorm_backward(kCpuCtx, dinp_frozen.data(), nullptr, w.data(), inp.data(), weight.data(),
                     rstd.data(), N, C);
    EXPECT_EQ(dinp_frozen, dinp);
}

INSTANTIATE_TEST_SUITE_P(Rmsnorm, RmsnormShapes,
                         ::testing::Values(std::pair<int64_t, int64_t>{1, 33},
                                           std::pair<int64_t, int64_t>{5, 33},
                                           std::pair<int64_t, int64_t>{3, 132}),
                         [](const auto& param_info) {
                             return fmt::format("N{}_C{}", param_info.param.first,
                                                param_info.param.second);
                         });

TEST(Rmsnorm, BackwardNeedsSavedRstd) {
    std::vector<float> buf(33, 0.5f);
    expect_error(
        [&] {
            rmsnorm_backward(kCpuCtx, buf.data(), nullptr, buf.data(), buf.data(), buf.data(),
                             nullptr, 1, 33);
        },
        {"rmsnorm_backward", "rstd"});
    expect_error(
        [&] {
            rmsnorm_forward(kCpuCtx, buf.data(), nullptr, buf.data(), buf.data(), 1, 33, -1.0f);
        },
        {"eps"});
}

}  // namespace
}  // namespace qforge::test
