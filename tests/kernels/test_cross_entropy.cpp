// What is here: cross-entropy forward against a naive double computation (ignore_index, large
// logits), backward against finite differences, the WRITE (not +=) convention, and bad targets.
#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cross_entropy.h"
#include "kernels/kernel_test_util.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::cross_entropy_backward;
using kernels::cross_entropy_forward;

constexpr int64_t N = 6, V = 37;
constexpr int32_t kIgnore = -100;

std::vector<int32_t> targets_with_ignored_row() {
    auto targets = random_ints(N, 0, V, 1);
    targets[2] = kIgnore;
    return targets;
}

TEST(CrossEntropy, ForwardMatchesNaive) {
    for (const float spread : {3.0f, 80.0f}) {  // 80: exp would overflow without the max shift
        const auto logits = random_floats(N * V, -spread, spread, 2);
        const auto targets = targets_with_ignored_row();
        std::vector<float> losses(N), lse(N);
        cross_entropy_forward(kCpuCtx, losses.data(), lse.data(), logits.data(), targets.data(), N,
                              V);
        for (int64_t n = 0; n < N; n++) {
            double max_logit = -std::numeric_limits<double>::infinity();
            for (int64_t v = 0; v < V; v++) {
                max_logit = std::max<double>(max_logit, logits[n * V + v]);
            }
            double z = 0.0;
            for (int64_t v = 0; v < V; v++) {
                z += std::exp(logits[n * V + v] - max_logit);
            }
            const double want_lse = max_logit + std::log(z);
            ASSERT_NEAR(lse[n], want_lse, 1e-6 * std::abs(want_lse) + 1e-6) << "row " << n;
            const double want = targets[n] == kIgnore ? 0.0 : want_lse - logits[n * V + targets[n]];
            ASSERT_NEAR(losses[n], want, 1e-6 * std::abs(want_lse) + 1e-6) << "row " << n;
            ASSERT_TRUE(std::isfinite(losses[n]));
        }
        EXPECT_EQ(losses[2], 0.0f);
    }
}

TEST(CrossEntropy, BackwardMatchesFiniteDifferencesAndWrites) {
    auto logits = random_floats(N * V, -3, 3, 2);
    const auto targets = targets_with_ignored_row();
    const auto dloss = random_floats(N, 0.5f, 1.5f, 3);  // loss = sum dloss * losses
    auto loss = [&] {
        std::vector<float> losses(N);
        cross_entropy_forward(kCpuCtx, losses.data(), nullptr, logits.data(), targets.data(), N, V);
        return dot(losses, dloss);
    };
    std::vector<float> lse(N), losses(N);
    cross_entropy_forward(kCpuCtx, losses.data(), lse.data(), logits.data(), targets.data(), N, V);
    // dlogits starts as NaN: the op writes every element (ignored rows too) and never reads it.
    std::vector<float> dlogits(N * V, std::numeric_limits<float>::quiet_NaN());
    cross_entropy_backward(kCpuCtx, dlogits.data(), logits.data(), lse.data(), targets.data(),
                           dloss.data(), N, V);
    EXPECT_LT(rel_error(to_double(dlogits), numeric_gradient(logits, loss)), kFdTolerance);
    for (int64_t v = 0; v < V; v++) {
        ASSERT_EQ(dlogits[2 * V + v], 0.0f) << "ignored row, v=" << v;
    }
    // Each counted row's gradient sums to zero (softmax minus one-hot).
    for (int64_t n = 0; n < N; n++) {
        double row_sum = 0.0;
        for (int64_t v = 0; v < V; v++) {
            row_sum += dlogits[n * V + v];
        }
        EXPECT_NEAR(row_sum, 0.0, 1e-6) << "row " << n;
    }
    // Without the saved lse the backward recomputes it.
    std::vector<float> recomputed(N * V, std::numeric_limits<float>::quiet_NaN());
    cross_entropy_backward(kCpuCtx, recomputed.data(), logits.data(), nullptr, targets.data(),
                           dloss.data(), N, V);
    EXPECT_LT(rel_error(to_double(recomputed), to_double(dlogits)), 1e-6);
}

// The bf16 gradient is the fp32 one rounded to nearest even, with the rows' padding left alone.
TEST(CrossEntropy, Bf16BackwardIsTheFp32GradientRounded) {
    const int64_t rows = 4, ld = V + 3;
    const auto logits = random_floats(static_cast<size_t>(rows * V), -6.0f, 6.0f, 21);
    const std::vector<int32_t> targets{3, -100, 36, 0};
    const std::vector<float> dloss{1.0f, 1.0f, 0.5f, 2.0f};
    std::vector<float> losses(rows), lse(rows), want(static_cast<size_t>(rows * V));
    cross_entropy_forward(kCpuCtx, losses.data(), lse.data(), logits.data(), targets.data(), rows,
                          V);
    kernels::cross_entropy_backward(kCpuCtx, want.data(), logits.data(), lse.data(), targets.data(),
                                    dloss.data(), rows, V);
    std::vector<uint16_t> got(static_cast<size_t>(rows * ld), 0xABCD);
    kernels::cross_entropy_backward_bf16(kCpuCtx, got.data(), ld, logits.data(), lse.data(),
                                         targets.data(), dloss.data(), rows, V);
    for (int64_t n = 0; n < rows; n++) {
        for (int64_t v = 0; v < ld; v++) {
            const uint16_t expect =
                v < V ? kernels::f32_to_bf16_bits(want[n * V + v]) : uint16_t{0xABCD};
            ASSERT_EQ(got[n * ld + v], expect) << "row " << n << " column " << v;
        }
    }
    EXPECT_THROW(
        kernels::cross_entropy_backward_bf16(kCpuCtx, got.data(), V - 1, logits.data(), lse.data(),
                                             targets.data(), dloss.data(), rows, V),
        Error);
}

TEST(CrossEntropy, CustomIgnoreIndex) {
    const auto logits = random_floats(2 * V, -1, 1, 2);
    const std::vector<int32_t> targets = {3, -1};
    std::vector<float> losses(2);
    cross_entropy_forward(kCpuCtx, losses.data(), nullptr, logits.data(), targets.data(), 2, V, -1);
    EXPECT_GT(losses[0], 0.0f);
    EXPECT_EQ(losses[1], 0.0f);
}

TEST(CrossEntropy, RejectsTargetsOutsideVocab) {
    const auto logits = random_floats(3 * V, -1, 1, 2);
    const std::vector<int32_t> targets = {1, static_cast<int32_t>(V), 0};
    std::vector<float> losses(3), dlogits(3 * V), dloss(3, 1.0f);
    expect_error(
        [&] {
            cross_entropy_forward(kCpuCtx, losses.data(), nullptr, logits.data(), targets.data(), 3,
                                  V);
        },
        {"cross_entropy_forward", "targets[1] = 37", "ignore_index (-100)"});
    expect_error(
        [&] {
            cross_entropy_backward(kCpuCtx, dlogits.data(), logits.data(), nullptr, targets.data(),
                                   dloss.data(), 3, V);
        },
        {"cross_entropy_backward", "targets[1] = 37"});
}

}  // namespace
}  // namespace qforge::test
