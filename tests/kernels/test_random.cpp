// What is here: random_normal on the CPU (the reference the CUDA kernel is compared with in the
// harness): the moments of 2e5 draws against N(0, stddev^2) within 5 sigma, the same values for
// the same (seed, key) whatever the length (parallel path included), different values for
// another key, and argument errors. Also nf4_quantize_device's CPU branch, which must be the host
// quantizer itself.
#include <cmath>
#include <gtest/gtest.h>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/nf4.h"
#include "kernels/random.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

std::vector<float> draw(int64_t n, float stddev, uint64_t seed, uint64_t key) {
    std::vector<float> out(static_cast<size_t>(n));
    kernels::random_normal(kCpuCtx, out.data(), n, stddev, seed, key);
    return out;
}

TEST(RandomNormal, MomentsMatchTheNormal) {
    const int64_t n = 200000;
    const double stddev = 0.02;
    const auto x = draw(n, static_cast<float>(stddev), 7, 3);
    double sum = 0.0, sum_sq = 0.0, sum_4 = 0.0;
    for (const float v : x) {
        const double z = v / stddev;
        sum += z;
        sum_sq += z * z;
        sum_4 += z * z * z * z;
    }
    const double dn = static_cast<double>(n);
    // mean ~ N(0, 1/n); second moment ~ N(1, 2/n); fourth moment ~ N(3, 96/n): within 5 sigma.
    EXPECT_NEAR(sum / dn, 0.0, 5.0 / std::sqrt(dn));
    EXPECT_NEAR(sum_sq / dn, 1.0, 5.0 * std::sqrt(2.0 / dn));
    EXPECT_NEAR(sum_4 / dn, 3.0, 5.0 * std::sqrt(96.0 / dn));
}

TEST(RandomNormal, CounterBasedAndKeyed) {
    const auto a = draw(40001, 1.0f, 11, 5);  // past the OpenMP threshold
    const auto b = draw(17, 1.0f, 11, 5);
    for (size_t i = 0; i < b.size(); i++) {
        EXPECT_EQ(a[i], b[i]) << "element " << i << " depends on the length";
    }
    const auto c = draw(17, 1.0f, 11, 6);
    int same = 0;
    for (size_t i = 0; i < c.size(); i++) {
        same += c[i] == b[i] ? 1 : 0;
        EXPECT_TRUE(std::isfinite(c[i]));
    }
    EXPECT_EQ(same, 0) << "another key must give other values";
    const auto scaled = draw(17, 3.0f, 11, 5);
    for (size_t i = 0; i < b.size(); i++) {
        EXPECT_NEAR(scaled[i], 3.0f * b[i], 1e-6f * std::fabs(3.0f * b[i]) + 1e-30f);
    }
}

TEST(RandomNormal, RejectsBadArguments) {
    std::vector<float> x(4);
    expect_error([&] { kernels::random_normal(kCpuCtx, x.data(), -1, 1.0f, 1, 2); },
                 {"random_normal", "n >= 0"});
    expect_error([&] { kernels::random_normal(kCpuCtx, nullptr, 4, 1.0f, 1, 2); },
                 {"random_normal", "out must not be null"});
    expect_error([&] { kernels::random_normal(kCpuCtx, x.data(), 4, -1.0f, 1, 2); },
                 {"random_normal", "stddev"});
    kernels::random_normal(kCpuCtx, nullptr, 0, 1.0f, 1, 2);  // no work, no pointer needed
}

TEST(Nf4QuantizeDevice, CpuBranchIsTheHostQuantizer) {
    const int64_t numel = 1000 * 3 + 1;  // odd, a partial last block
    const auto w = random_floats(static_cast<size_t>(numel), -0.1f, 0.1f, 9);
    const kernels::Nf4Sizes s = kernels::nf4_storage_sizes(numel);
    std::vector<uint8_t> p1(static_cast<size_t>(s.packed_bytes)), p2(p1.size());
    std::vector<uint8_t> q1(static_cast<size_t>(s.blocks)), q2(q1.size());
    std::vector<float> n1(static_cast<size_t>(s.nested_blocks)), n2(n1.size());
    float o1 = 0.0f, o2 = 1.0f;
    kernels::nf4_quantize(w.data(), numel, p1.data(), q1.data(), n1.data(), &o1);
    kernels::nf4_quantize_device(kCpuCtx, w.data(), numel, p2.data(), q2.data(), n2.data(), &o2);
    EXPECT_EQ(p1, p2);
    EXPECT_EQ(q1, q2);
    EXPECT_EQ(n1, n2);
    EXPECT_EQ(o1, o2);
    expect_error(
        [&] {
            kernels::nf4_quantize_device(kCpuCtx, w.data(), numel, nullptr, q2.data(), n2.data(),
                                         &o2);
        },
        {"nf4_quantize_device", "packed must not be null"});
}

}  // namespace
}  // namespace qforge::test
