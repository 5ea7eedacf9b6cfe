// What is here: adamw_update against torch.optim.AdamW's update written out by hand in double
// (_single_tensor_adamw: decoupled decay, lerp'd first moment, bias corrections, eps outside the
// square root), over several steps from torch's zero-initialised state and from a resumed state;
// the step-1 sign update; decoupled weight decay; sum_of_squares against a double sum; errors.
#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/kernel_test_util.h"
#include "kernels/registry.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::AdamWParams;

// One parameter tensor's state as torch keeps it, in double.
struct TorchAdamW {
    std::vector<double> param, exp_avg, exp_avg_sq;

    // torch/optim/adamw.py (_single_tensor_adamw, amsgrad=False, maximize=False), with the
    // gradient already multiplied by grad_scale as qforge's trainer hands it over.
    void step(const std::vector<float>& grad, const AdamWParams& p) {
        const double lr = p.lr, b1 = p.beta1, b2 = p.beta2, eps = p.eps;
        const double bias_correction1 = 1.0 - std::pow(b1, static_cast<double>(p.step));
        const double bias_correction2 = 1.0 - std::pow(b2, static_cast<double>(p.step));
        const double step_size = lr / bias_correction1;
        const double bias_correction2_sqrt = std::sqrt(bias_correction2);
        for (std::size_t i = 0; i < param.size(); i++) {
            const double g = static_cast<double>(grad[i]) * static_cast<double>(p.grad_scale);
            param[i] *= 1.0 - lr * static_cast<double>(p.weight_decay);  // param.mul_(1 - lr*wd)
            exp_avg[i] += (g - exp_avg[i]) * (1.0 - b1);                 // lerp_(grad, 1 - b1)
            exp_avg_sq[i] = exp_avg_sq[i] * b2 + (1.0 - b2) * g * g;     // mul_(b2).addcmul_
            const double denom = std::sqrt(exp_avg_sq[i]) / bias_correction2_sqrt + eps;
            param[i] -= step_size * exp_avg[i] / denom;  // addcdiv_(exp_avg, denom, -step_size)
        }
    }
};

std::vector<double> widen(const std::vector<float>& x) {
    return std::vector<double>(x.begin(), x.end());
}

// |got - want| <= tol * max(|want|, floor), element by element, with the first failure reported.
::testing::AssertionResult near_all(const std::vector<float>& got, const std::vector<double>& want,
                                    double tol, double floor, const char* what) {
    for (std::size_t i = 0; i < got.size(); i++) {
        const double scale = std::max(std::abs(want[i]), floor);
        if (!(std::abs(got[i] - want[i]) <= tol * scale)) {
            return ::testing::AssertionFailure()
                   << what << "[" << i << "] = " << got[i] << ", torch formula gives " << want[i];
        }
    }
    return ::testing::AssertionSuccess();
}

struct Hyper {
    float lr, beta1, beta2, eps, weight_decay, grad_scale;
    const char* name;
};

// clang-format off
const Hyper kHypers[] = {
    {1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f,  1.0f,  "defaults_no_decay"},
    {3e-3f, 0.9f, 0.95f,  1e-8f, 0.1f,  0.25f, "decay_and_grad_scale"},
    // Gradients of ~1e-6 against eps = 1e-6: sqrt(v_hat) and eps are of one size, so where eps
    // is added (outside the square root, after bias correction) decides the result.
    {1e-2f, 0.8f, 0.99f,  1e-6f, 0.01f, 1e-6f, "eps_matters"},
    {5e-3f, 0.0f, 0.5f,   1e-8f, 0.05f, 2.0f,  "beta1_zero"},
};

// clang-format on

// gtest prints a parameter on failure; print its name, not its bytes.
void PrintTo(const Hyper& h, std::ostream* os) {
    *os << h.name;
}

class AdamWTorch : public ::testing::TestWithParam<Hyper> {};

// Six steps with fresh gradients each step; the fp32 state may drift from the double reference
// by a few roundings per step, so the tolerance on param is on the update, not on param.
void run_steps(const Hyper& h, int64_t n, bool fresh_state, int steps) {
    std::vector<float> param = random_floats(n, -1, 1, 1);
    std::vector<float> m(n), v(n);
    if (fresh_state) {  // torch's state starts at zeros; step counts from 1
        std::fill(m.begin(), m.end(), 0.0f);
        std::fill(v.begin(), v.end(), 0.0f);
    } else {  // resumed from a checkpoint at step 40
        m = random_floats(n, -0.05f, 0.05f, 2);
        v = random_floats(n, 1e-4f, 1e-2f, 3);
        for (auto& x : m) {
            x *= h.grad_scale;
        }
        for (auto& x : v) {
            x *= h.grad_scale * h.grad_scale;
        }
    }
    TorchAdamW ref{widen(param), widen(m), widen(v)};
    const int64_t first = fresh_state ? 1 : 41;
    for (int64_t step = first; step < first + steps; step++) {
        const auto grad = random_floats(n, -1, 1, 100 + static_cast<uint64_t>(step));
        const AdamWParams p{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.grad_scale, step};
        const auto before = widen(param);
        const auto ref_before = ref.param;
        kernels::adamw_update(kCpuCtx, param.data(), grad.data(), m.data(), v.data(), n, p);
        ref.step(grad, p);
        // The update itself (~lr) to 1e-4: any misplaced term (bias correction, decay, eps,
        // grad_scale) changes it by far more; fp32 rounding of param (~6e-8) stays far below.
        std::vector<double> got_delta(n), want_delta(n);
        for (int64_t i = 0; i < n; i++) {
            got_delta[i] = static_cast<double>(param[i]) - before[i];
            want_delta[i] = ref.param[i] - ref_before[i];
        }
        std::vector<float> got_delta_f(got_delta.begin(), got_delta.end());
        ASSERT_TRUE(near_all(got_delta_f, want_delta, 1e-4, h.lr, "param update"))
            << h.name << " step " << step;
        ASSERT_TRUE(near_all(m, ref.exp_avg, 1e-5, 1e-6 * h.grad_scale, "exp_avg"))
            << h.name << " step " << step;
        ASSERT_TRUE(
            near_all(v, ref.exp_avg_sq, 1e-5, 1e-6 * h.grad_scale * h.grad_scale, "exp_avg_sq"))
            << h.name << " step " << step;
        ASSERT_TRUE(near_all(param, ref.param, 1e-6, 1.0, "param")) << h.name << " step " << step;
        // Keep the reference on the kernel's fp32 state so that drift does not compound.
        ref.param = widen(param);
        ref.exp_avg = widen(m);
        ref.exp_avg_sq = widen(v);
    }
}

TEST_P(AdamWTorch, SixStepsFromZeroState) {
    run_steps(GetParam(), 1031, true, 6);
}

TEST_P(AdamWTorch, SixStepsFromResumedState) {
    run_steps(GetParam(), 1031, false, 6);
}

TEST_P(AdamWTorch, ParallelPathMatchesToo) {
    run_steps(GetParam(), 40001, false, 2);  // past the CPU's OpenMP threshold
}

INSTANTIATE_TEST_SUITE_P(Kernels, AdamWTorch, ::testing::ValuesIn(kHypers),
                         [](const ::testing::TestParamInfo<Hyper>& param_info) {
                             return std::string(param_info.param.name);
                         });

TEST(AdamW, FirstStepMovesEachWeightByLrAgainstItsGradientSign) {
    // Step 1 from zero moments: m_hat = g, v_hat = g^2, so the update is -lr * g / (|g| + eps),
    // whatever the gradient's size: Adam's hallmark, and a check of both bias corrections.
    const int64_t n = 517;
    auto param = random_floats(n, -1, 1, 1);
    const auto before = param;
    auto grad = random_floats(n, -1, 1, 2);
    for (int64_t i = 0; i < n; i++) {
        grad[i] *= std::pow(10.0f, static_cast<float>(i % 7) - 3.0f);  // 1e-3 .. 1e3
    }
    std::vector<float> m(n, 0.0f), v(n, 0.0f);
    const AdamWParams p{.lr = 0.01f,
                        .beta1 = 0.9f,
                        .beta2 = 0.999f,
                        .eps = 1e-12f,
                        .weight_decay = 0.0f,
                        .grad_scale = 1.0f,
                        .step = 1};
    kernels::adamw_update(kCpuCtx, param.data(), grad.data(), m.data(), v.data(), n, p);
    for (int64_t i = 0; i < n; i++) {
        const double want = -0.01 * (grad[i] > 0 ? 1.0 : -1.0);
        EXPECT_NEAR(static_cast<double>(param[i]) - before[i], want, 1e-6) << "i=" << i;
    }
}

TEST(AdamW, WeightDecayIsDecoupledFromTheGradient) {
    // AdamW (not Adam + L2): turning decay on changes the step by exactly -lr * wd * param,
    // independent of the moments (an L2 term in the gradient would be divided by sqrt(v)).
    const int64_t n = 263;
    const auto param0 = random_floats(n, -2, 2, 1);
    const auto grad = random_floats(n, -1, 1, 2);
    const auto m0 = random_floats(n, -0.1f, 0.1f, 3);
    const auto v0 = random_floats(n, 1e-3f, 1e-2f, 4);
    AdamWParams p{.lr = 0.02f,
                  .beta1 = 0.9f,
                  .beta2 = 0.999f,
                  .eps = 1e-8f,
                  .weight_decay = 0.0f,
                  .grad_scale = 1.0f,
                  .step = 12};
    auto plain = param0, m1 = m0, v1 = v0;
    kernels::adamw_update(kCpuCtx, plain.data(), grad.data(), m1.data(), v1.data(), n, p);
    p.weight_decay = 0.3f;
    auto decayed = param0, m2 = m0, v2 = v0;
    kernels::adamw_update(kCpuCtx, decayed.data(), grad.data(), m2.data(), v2.data(), n, p);
    EXPECT_EQ(m1, m2);  // decay never reaches the moments
    EXPECT_EQ(v1, v2);
    for (int64_t i = 0; i < n; i++) {
        const double want = -0.02 * 0.3 * param0[i];
        EXPECT_NEAR(static_cast<double>(decayed[i]) - plain[i], want, 1e-6) << "i=" << i;
    }
}

TEST(AdamW, RejectsBadArguments) {
    std::vector<float> x(4, 0.5f), g(4, 0.25f), m(4, 0.1f), v(4, 0.01f);
    const AdamWParams good{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 1};
    auto call = [&](AdamWParams p, int64_t n = 4, float* param = nullptr) {
        kernels::adamw_update(kCpuCtx, param ? param : x.data(), g.data(), m.data(), v.data(), n,
                              p);
    };
    EXPECT_NO_THROW(call(good));
    auto with = [&](auto field, auto value) {
        AdamWParams p = good;
        p.*field = value;
        return p;
    };
    expect_error([&] { call(with(&AdamWParams::step, int64_t{0})); }, {"adamw_update", "step"});
    expect_error([&] { call(with(&AdamWParams::beta1, 1.0f)); }, {"adamw_update", "beta1=1"});
    expect_error([&] { call(with(&AdamWParams::beta2, -0.5f)); }, {"adamw_update", "beta2=-0.5"});
    expect_error([&] { call(with(&AdamWParams::eps, 0.0f)); }, {"adamw_update", "eps=0"});
    expect_error([&] { call(with(&AdamWParams::lr, -1.0f)); }, {"adamw_update", "lr=-1"});
    expect_error([&] { call(with(&AdamWParams::weight_decay, -0.1f)); },
                 {"adamw_update", "weight_decay", "-0.1"});
    expect_error(
        [&] { call(with(&AdamWParams::grad_scale, std::numeric_limits<float>::quiet_NaN())); },
        {"adamw_update", "grad_scale", "nan"});
    expect_error([&] { call(good, -1); }, {"adamw_update", "n >= 0"});
    expect_error(
        [&] { kernels::adamw_update(kCpuCtx, x.data(), nullptr, m.data(), v.data(), 4, good); },
        {"adamw_update", "grad must not be null"});
    if (!kernels::op_supported(kernels::Op::kAdamwUpdate, kernels::Device::kCuda)) {
        expect_error(
            [&] {
                kernels::adamw_update(kernels::Ctx{kernels::Device::kCuda, nullptr}, x.data(),
                                      g.data(), m.data(), v.data(), 4, good);
            },
            {"adamw_update", "CUDA backend does not implement"});
    }
}

TEST(SumOfSquares, MatchesADoubleSum) {
    for (const int64_t n : {1, 1027, 100003}) {  // 100003: the OpenMP path
        const auto x = random_floats(n, -3, 3, static_cast<uint64_t>(n));
        long double want = 0;
        for (const float e : x) {
            want += static_cast<long double>(e) * e;
        }
        const double got = kernels::sum_of_squares(kCpuCtx, x.data(), n);
        EXPECT_NEAR(got, static_cast<double>(want), 1e-12 * static_cast<double>(want)) << "n=" << n;
    }
    EXPECT_EQ(kernels::sum_of_squares(kCpuCtx, nullptr, 0), 0.0);
}

TEST(SumOfSquares, AccumulatesInDouble) {
    // 2^24 + 3 values of 1 and one of 2^-12: an fp32 running sum stops at 2^24 and drops the
    // rest, a double sum holds every term.
    const int64_t n = (int64_t{1} << 24) + 4;
    std::vector<float> x(static_cast<size_t>(n), 1.0f);
    x.back() = 0x1p-12f;
    const double want = static_cast<double>(n - 1) + 0x1p-24;
    EXPECT_EQ(kernels::sum_of_squares(kCpuCtx, x.data(), n), want);
}

TEST(SumOfSquares, RejectsBadArguments) {
    std::vector<float> x(3, 1.5f);
    expect_error([&] { kernels::sum_of_squares(kCpuCtx, x.data(), -2); },
                 {"sum_of_squares", "n >= 0", "-2"});
    expect_error([&] { kernels::sum_of_squares(kCpuCtx, nullptr, 3); },
                 {"sum_of_squares", "x must not be null"});
    if (!kernels::op_supported(kernels::Op::kSumOfSquares, kernels::Device::kCuda)) {
        expect_error(
            [&] {
                kernels::sum_of_squares(kernels::Ctx{kernels::Device::kCuda, nullptr}, x.data(), 3);
            },
            {"sum_of_squares", "CUDA backend does not implement"});
    }
}

}  // namespace
}  // namespace qforge::test
