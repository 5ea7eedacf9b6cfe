// What is here: dropout's counter-based mask (a pure function of seed, key and index, the same
// on the parallel path and for any length), its keep rate over 1e5 draws (and independence
// between keys and neighbouring indices), the inverted scaling, backward reusing the forward's
// mask, in-place forward, p = 0, and argument errors.
#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <string>
#include <utility>
#include <vector>

#include "kernels/dropout.h"
#include "kernels/kernel_test_util.h"
#include "kernels/registry.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::dropout_backward;
using kernels::dropout_forward;
using kernels::dropout_keep;

constexpr uint64_t kSeed = 20240917, kKey = 77;

std::vector<float> forward(const std::vector<float>& inp, float p, uint64_t seed, uint64_t key) {
    std::vector<float> out(inp.size());
    dropout_forward(kCpuCtx, out.data(), inp.data(), static_cast<int64_t>(inp.size()), p, seed,
                    key);
    return out;
}

// Inputs are never 0, so out[i] != 0 exactly when element i was kept.
std::vector<bool> kept(const std::vector<float>& out) {
    std::vector<bool> k(out.size());
    for (std::size_t i = 0; i < out.size(); i++) {
        k[i] = out[i] != 0.0f;
    }
    return k;
}

// |count - n q| within 5 standard deviations of a Binomial(n, q).
void expect_binomial(int64_t count, int64_t n, double q, const std::string& what) {
    const double sd = std::sqrt(static_cast<double>(n) * q * (1.0 - q));
    EXPECT_NEAR(static_cast<double>(count), static_cast<double>(n) * q, 5.0 * sd)
        << what << ": " << count << " of " << n << ", expected rate " << q;
}

TEST(Dropout, MaskIsAFunctionOfSeedKeyAndIndex) {
    const float p = 0.3f;
    const int64_t n = 100003;  // past the OpenMP threshold: the mask must not depend on threads
    const auto inp = random_floats(n, 0.5f, 1.5f, 1);
    const auto out = forward(inp, p, kSeed, kKey);
    const float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) {
        if (dropout_keep(kSeed, kKey, i, p)) {
            ASSERT_NEAR(out[i], inp[i] / (1.0 - p), 2e-7 * inp[i] * scale) << "i=" << i;
        } else {
            ASSERT_EQ(out[i], 0.0f) << "i=" << i;
        }
    }
    EXPECT_EQ(forward(inp, p, kSeed, kKey), out);  // the same call, the same mask

    // A shorter call sees the same mask on its prefix: the mask depends on i, not on n.
    const std::vector<float> head(inp.begin(), inp.begin() + 777);
    const auto out_head = forward(head, p, kSeed, kKey);
    EXPECT_TRUE(std::equal(out_head.begin(), out_head.end(), out.begin()));

    // Another key (the next layer or micro-step) or another seed gives another mask.
    for (const auto& [seed, key] : {std::pair<uint64_t, uint64_t>{kSeed, kKey + 1},
                                    std::pair<uint64_t, uint64_t>{kSeed + 1, kKey}}) {
        const auto a = kept(out), b = kept(forward(inp, p, seed, key));
        int64_t differ = 0;
        for (int64_t i = 0; i < n; i++) {
            differ += a[i] != b[i] ? 1 : 0;
        }
        // Two independent masks disagree with probability 2 p (1 - p).
        expect_binomial(differ, n, 2.0 * p * (1.0 - p), "masks of another seed/key");
    }
}

TEST(Dropout, KeepRateAndIndependenceOver1e5Draws) {
    const int64_t n = 100000;
    const auto inp = random_floats(n, 0.5f, 1.5f, 1);
    for (const float p : {0.05f, 0.1f, 0.5f, 0.9f}) {
        const std::string at = "p=" + std::to_string(p);
        const auto a = kept(forward(inp, p, kSeed, kKey));
        const auto b = kept(forward(inp, p, kSeed, kKey + 1));
        int64_t keep = 0, both_keys = 0, both_neighbours = 0;
        for (int64_t i = 0; i < n; i++) {
            keep += a[i] ? 1 : 0;
            both_keys += a[i] && b[i] ? 1 : 0;
            both_neighbours += i > 0 && a[i] && a[i - 1] ? 1 : 0;
        }
        const double q = 1.0 - p;
        expect_binomial(keep, n, q, at + " keep rate");
        expect_binomial(both_keys, n, q * q, at + " kept under key and key+1");
        // Overlapping pairs are not independent draws; 5 sd of the independent case is still
        // a loose enough bound (their variance is below 3x that).
        expect_binomial(both_neighbours, n - 1, q * q, at + " kept at i and i-1");
    }
}

TEST(Dropout, InvertedScalingKeepsTheExpectation) {
    const int64_t n = 100000;
    const float p = 0.4f;
    const auto inp = random_floats(n, 0.5f, 1.5f, 1);
    const auto out = forward(inp, p, kSeed, kKey);
    double sum_in = 0.0, sum_out = 0.0, var = 0.0;
    for (int64_t i = 0; i < n; i++) {
        sum_in += inp[i];
        sum_out += out[i];
        var += static_cast<double>(inp[i]) * inp[i] * p / (1.0 - p);  // Var of out[i]
    }
    EXPECT_NEAR(sum_out, sum_in, 5.0 * std::sqrt(var));
}

TEST(Dropout, BackwardAccumulatesThroughTheForwardMask) {
    const int64_t n = 40001;
    const float p = 0.25f;
    const auto inp = random_floats(n, 0.5f, 1.5f, 1);
    const auto mask = kept(forward(inp, p, kSeed, kKey));
    const auto dout = random_floats(n, -1, 1, 2);
    const auto dinp0 = random_floats(n, -1, 1, 3);  // gradients accumulate (+=)
    auto dinp = dinp0;
    dropout_backward(kCpuCtx, dinp.data(), dout.data(), n, p, kSeed, kKey);
    for (int64_t i = 0; i < n; i++) {
        if (mask[i]) {
            const double want = static_cast<double>(dinp0[i]) + dout[i] / (1.0 - p);
            ASSERT_NEAR(dinp[i], want, 4e-7) << "i=" << i;
        } else {
            ASSERT_EQ(dinp[i], dinp0[i]) << "i=" << i;  // nothing flows through a dropped unit
        }
    }
}

TEST(Dropout, InPlaceMatchesSeparateOutput) {
    const int64_t n = 1027;
    auto x = random_floats(n, -1, 1, 1);
    const auto out = forward(x, 0.2f, kSeed, kKey);
    dropout_forward(kCpuCtx, x.data(), x.data(), n, 0.2f, kSeed, kKey);
    EXPECT_EQ(x, out);
}

TEST(Dropout, ZeroRateIsTheIdentity) {
    const auto inp = random_floats(513, -1, 1, 1);
    EXPECT_EQ(forward(inp, 0.0f, kSeed, kKey), inp);
    const auto dout = random_floats(513, -1, 1, 2);
    auto dinp = random_floats(513, -1, 1, 3);
    const auto dinp0 = dinp;
    dropout_backward(kCpuCtx, dinp.data(), dout.data(), 513, 0.0f, kSeed, kKey);
    for (std::size_t i = 0; i < dinp.size(); i++) {
        ASSERT_EQ(dinp[i], dinp0[i] + dout[i]) << "i=" << i;
    }
}

TEST(Dropout, RejectsBadArguments) {
    std::vector<float> x(4, 0.5f), y(4, 0.25f);
    for (const float p : {1.0f, -0.1f, std::nanf("")}) {
        expect_error([&] { dropout_forward(kCpuCtx, y.data(), x.data(), 4, p, 1, 2); },
                     {"dropout_forward", "expected 0 <= p < 1"});
        expect_error([&] { dropout_backward(kCpuCtx, y.data(), x.data(), 4, p, 1, 2); },
                     {"dropout_backward", "expected 0 <= p < 1"});
    }
    expect_error([&] { dropout_forward(kCpuCtx, y.data(), x.data(), -1, 0.1f, 1, 2); },
                 {"dropout_forward", "n >= 0"});
    expect_error([&] { dropout_forward(kCpuCtx, nullptr, x.data(), 4, 0.1f, 1, 2); },
                 {"dropout_forward", "out must not be null"});
    expect_error([&] { dropout_backward(kCpuCtx, y.data(), nullptr, 4, 0.1f, 1, 2); },
                 {"dropout_backward", "dout must not be null"});
    if (!kernels::op_supported(kernels::Op::kDropoutForward, kernels::Device::kCuda)) {
        const kernels::Ctx cuda{kernels::Device::kCuda, nullptr};
        expect_error([&] { dropout_forward(cuda, y.data(), x.data(), 4, 0.1f, 1, 2); },
                     {"dropout_forward", "CUDA backend does not implement"});
        expect_error([&] { dropout_backward(cuda, y.data(), x.data(), 4, 0.1f, 1, 2); },
                     {"dropout_backward", "CUDA backend does not implement"});
    }
}

}  // namespace
}  // namespace qforge::test
