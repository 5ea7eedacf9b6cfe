// What is here: SwiGLU forward against the formula, backward against finite differences, and
// finite outputs for gates far into the sigmoid's tails.
#include <cmath>
#include <gtest/gtest.h>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/swiglu.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::swiglu_backward;
using kernels::swiglu_forward;

double silu(double g) {
    return g / (1.0 + std::exp(-g));
}

TEST(Swiglu, ForwardMatchesFormula) {
    const int64_t n = 1027;
    const auto gate = random_floats(n, -6, 6, 1);
    const auto up = random_floats(n, -2, 2, 2);
    std::vector<float> out(n);
    swiglu_forward(kCpuCtx, out.data(), gate.data(), up.data(), n);
    for (int64_t i = 0; i < n; i++) {
        const double want = silu(gate[i]) * up[i];
        ASSERT_NEAR(out[i], want, 2e-7 * std::abs(want) + 1e-30) << "i=" << i;
    }
}

TEST(Swiglu, InPlaceOnGateMatchesSeparateOutput) {
    const int64_t n = 333;
    auto gate = random_floats(n, -6, 6, 1);
    const auto up = random_floats(n, -2, 2, 2);
    std::vector<float> out(n);
    swiglu_forward(kCpuCtx, out.data(), gate.data(), up.data(), n);
    swiglu_forward(kCpuCtx, gate.data(), gate.data(), up.data(), n);  // as the Llama MLP calls it
    EXPECT_EQ(gate, out);
}

TEST(Swiglu, BackwardMatchesFiniteDifferences) {
    const int64_t n = 67;
    auto gate = random_floats(n, -4, 4, 1);
    auto up = random_floats(n, -2, 2, 2);
    const auto w = random_floats(n, -1, 1, 3);
    auto loss = [&] {
        std::vector<float> out(n);
        swiglu_forward(kCpuCtx, out.data(), gate.data(), up.data(), n);
        return dot(out, w);
    };
    const auto dgate0 = random_floats(n, -1, 1, 4);
    const auto dup0 = random_floats(n, -1, 1, 5);
    auto dgate = dgate0, dup = dup0;
    swiglu_backward(kCpuCtx, dgate.data(), dup.data(), w.data(), gate.data(), up.data(), n);
    EXPECT_LT(rel_error(added(dgate, dgate0), numeric_gradient(gate, loss)), kFdTolerance);
    EXPECT_LT(rel_error(added(dup, dup0), numeric_gradient(up, loss)), kFdTolerance);

    auto dgate_only = dgate0;
    swiglu_backward(kCpuCtx, dgate_only.data(), nullptr, w.data(), gate.data(), up.data(), n);
    EXPECT_EQ(dgate_only, dgate);
}

TEST(Swiglu, ExtremeGatesStayFinite) {
    const std::vector<float> gate = {-1000.0f, -88.0f, 88.0f, 1000.0f};
    const std::vector<float> up = {0.5f, -0.5f, 0.25f, 2.0f};
    const std::vector<float> dout = {1.0f, 1.0f, 1.0f, 1.0f};
    std::vector<float> out(4), dgate(4, 0.0f), dup(4, 0.0f);
    swiglu_forward(kCpuCtx, out.data(), gate.data(), up.data(), 4);
    swiglu_backward(kCpuCtx, dgate.data(), dup.data(), dout.data(), gate.data(), up.data(), 4);
    for (int i = 0; i < 4; i++) {
        EXPECT_TRUE(std::isfinite(out[i]) && std::isfinite(dgate[i]) && std::isfinite(dup[i]))
            << "i=" << i;
    }
    EXPECT_NEAR(out[3], 2000.0f, 1e-3);  // silu(g) -> g for large g
    EXPECT_NEAR(out[0], 0.0f, 1e-30);    // and -> 0 for very negative g
    EXPECT_NEAR(dgate[3], 2.0f, 1e-6);   // silu'(g) -> 1
}

}  // namespace
}  // namespace qforge::test
