// What is here: tests of runtime/tensor/half.h against references computed independently in
// double arithmetic (exhaustive over all 16-bit patterns, random over f32).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <vector>

#include "runtime/tensor/half.h"
#include "support/test_support.h"

namespace qforge {
namespace {

// binary16 value of a bit pattern from the definition: (-1)^s * 2^(e-15) * 1.m, or
// 2^-14 * 0.m for subnormals.
double f16_reference(uint16_t h) {
    const int sign = (h >> 15) ? -1 : 1;
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    if (exp == 0x1f) {
        return mant ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
    }
    if (exp == 0) {
        return sign * std::ldexp(mant, -24);
    }
    return sign * std::ldexp(1024 + mant, exp - 25);
}

// Nearest of two neighbours by exact double distance, ties to the even bit pattern.
uint16_t round_between(double x, uint16_t lo_bits, double lo, uint16_t hi_bits, double hi) {
    const double dlo = std::abs(x - lo), dhi = std::abs(hi - x);
    if (dlo < dhi)
        return lo_bits;
    if (dhi < dlo)
        return hi_bits;
    return (lo_bits & 1) ? hi_bits : lo_bits;
}

// Reference float -> f16 for finite non-negative x: search the sorted table of all finite
// non-negative f16 values (and +inf as the value past 65504 + half an ulp).
uint16_t f16_round_reference(float xf) {
    const double x = xf;
    // Non-negative f16 patterns 0x0000..0x7c00 are increasing in value.
    uint16_t lo = 0, hi = 0x7c00;
    while (hi - lo > 1) {
        const auto mid = static_cast<uint16_t>((lo + hi) / 2);
        (f16_reference(mid) <= x ? lo : hi) = mid;
    }
    const double vlo = f16_reference(lo);
    if (vlo == x)
        return lo;
    // For hi == inf, the rounding boundary is 65504 + 16 (what the next binade would hold).
    const double vhi = hi == 0x7c00 ? 65536.0 : f16_reference(hi);
    return round_between(x, lo, vlo, hi, vhi);
}

std::vector<float> random_f32_bits(std::size_t n) {
    std::mt19937_64 rng(test::test_seed());
    std::vector<float> out;
    while (out.size() < n) {
        const float v = std::bit_cast<float>(static_cast<uint32_t>(rng()));
        if (std::isfinite(v)) {
            out.push_back(v);
        }
    }
    return out;
}

TEST(Half, F16ToF32IsExactForEveryPattern) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const auto bits = static_cast<uint16_t>(h);
        const double ref = f16_reference(bits);
        const float got = f16_to_f32(bits);
        if (std::isnan(ref)) {
            ASSERT_TRUE(std::isnan(got)) << std::hex << h;
        } else {
            ASSERT_EQ(static_cast<double>(got), ref) << std::hex << h;
            ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << std::hex << h;
        }
    }
}

TEST(Half, F16RoundTripsEveryPattern) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const auto bits = static_cast<uint16_t>(h);
        const uint16_t back = f32_to_f16(f16_to_f32(bits));
        if ((h & 0x7fff) > 0x7c00) {
            ASSERT_GT(back & 0x7fff, 0x7c00) << "NaN lost at " << std::hex << h;
        } else {
            ASSERT_EQ(back, bits) << std::hex << h;
        }
    }
}

TEST(Half, F32ToF16RoundsToNearestEven) {
    // Random bit patterns cover every exponent; scaled values land in the subnormal, normal
    // and overflow ranges of f16 where the interesting rounding happens.
    std::vector<float> xs = random_f32_bits(200000);
    std::mt19937_64 rng(test::test_seed() + 1);
    std::uniform_real_distribution<float> mant(1.0f, 2.0f);
    for (int e = -27; e <= 17; ++e) {
        for (int i = 0; i < 2000; ++i) {
            xs.push_back(std::ldexp(mant(rng), e));
        }
    }
    // Exact ties: halfway between consecutive f16 values, across all binades.
    for (uint32_t h = 0; h < 0x7bff; h += 7) {
        const double mid = (f16_reference(static_cast<uint16_t>(h)) +
                            f16_reference(static_cast<uint16_t>(h + 1))) /
                           2;
        xs.push_back(static_cast<float>(mid));
    }
    xs.push_back(65520.0f);  // tie between 65504 and inf -> inf (even)
    xs.push_back(std::ldexp(1.0f, -25));
    for (float x : xs) {
        const float ax = std::abs(x);
        uint16_t expect = f16_round_reference(ax);
        if (std::signbit(x))
            expect |= 0x8000;
        ASSERT_EQ(f32_to_f16(x), expect)
            << "x=" << x << " bits=" << std::hex << std::bit_cast<uint32_t>(x);
    }
}

TEST(Half, F16SpecialValues) {
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(f32_to_f16(inf), 0x7c00);
    EXPECT_EQ(f32_to_f16(-inf), 0xfc00);
    EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
    // A NaN whose payload lives only in the low bits must not become inf.
    const float low_nan = std::bit_cast<float>(0x7f800001u);
    EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(low_nan))));
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
}

TEST(Half, Bf16ToF32IsTheHighHalf) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float got = bf16_to_f32(static_cast<uint16_t>(h));
        ASSERT_EQ(std::bit_cast<uint32_t>(got), h << 16);
    }
}

TEST(Half, F32ToBf16RoundsToNearestEven) {
    std::vector<float> xs = random_f32_bits(300000);
    // Exact ties: the low 16 bits exactly 0x8000.
    std::mt19937_64 rng(test::test_seed() + 2);
    for (int i = 0; i < 20000; ++i) {
        const uint32_t hi = static_cast<uint32_t>(rng()) & 0x7f7f0000u;
        xs.push_back(std::bit_cast<float>(hi | 0x8000u));
    }
    xs.push_back(std::numeric_limits<float>::max());  // rounds up to inf
    for (float x : xs) {
        const uint32_t bits = std::bit_cast<uint32_t>(x);
        const auto lo_bits = static_cast<uint16_t>(bits >> 16);
        const auto hi_bits = static_cast<uint16_t>(lo_bits + 1);
        const double lo = std::abs(static_cast<double>(bf16_to_f32(lo_bits)));
        // The next pattern may be inf; then the boundary value is 2^128 (the next binade).
        const double hi =
            (hi_bits & 0x7fff) == 0x7f80 ? std::ldexp(1.0, 128) : std::abs(bf16_to_f32(hi_bits));
        const uint16_t expect =
            round_between(std::abs(static_cast<double>(x)), lo_bits, lo, hi_bits, hi);
        ASSERT_EQ(f32_to_bf16(x), expect) << "x=" << x << " bits=" << std::hex << bits;
    }
}

TEST(Half, Bf16KeepsNaN) {
    for (uint32_t payload : {0x1u, 0xffffu, 0x400000u, 0x7fffffu}) {
        const float nan = std::bit_cast<float>(0x7f800000u | payload);
        EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(nan)))) << std::hex << payload;
        const float neg = std::bit_cast<float>(0xff800000u | payload);
        EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(neg))));
        EXPECT_TRUE(std::signbit(bf16_to_f32(f32_to_bf16(neg))));
    }
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
}

}  // namespace
}  // namespace qforge
