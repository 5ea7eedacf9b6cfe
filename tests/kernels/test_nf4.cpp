// Tests for kernels/nf4.h: the code tables, bitsandbytes' nearest-code rules, the bit layout of a
// hand-written block, the double-quantized absmax, and the dequantization error bound on shapes
// that are not multiples of the 64-value block; on a GPU, the bf16 dequantization's row path
// (cols % 256 == 0: warp spans of 2048 values that straddle rows) against the CPU, bit for bit.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda_test_util.h"
#include "kernels/memory.h"
#include "kernels/nf4.h"
#include "kernels/registry.h"
#include "support/test_support.h"

namespace qforge::kernels {
namespace {

// create_dynamic_map(signed=True) as fp32 bit patterns, from torch 2.11 running bitsandbytes'
// create_dynamic_map code on the GPU machine: identical with ATEN_CPU_CAPABILITY=avx2 and avx512
// and with the linspace on CUDA. (ATEN_CPU_CAPABILITY=default differs by 1 ulp in 42 entries.)
//   for i in range(7):
//       b = torch.linspace(0.1, 1, 2**i + 1, dtype=torch.float32)
//       m = (b[:-1] + b[1:]) / 2.0
//       data += ((10**(-6 + i)) * m).tolist(); data += (-(10**(-6 + i)) * m).tolist()
//   data += [0, 1.0]; data.sort()
// clang-format off
constexpr uint32_t kDynamicMapBits[256] = {
    0xbf7e3333, 0xbf7a999a, 0xbf770000, 0xbf736666, 0xbf6fcccd, 0xbf6c3333, 0xbf68999a, 0xbf650000,
    0xbf616666, 0xbf5dcccd, 0xbf5a3333, 0xbf56999a, 0xbf530000, 0xbf4f6666, 0xbf4bcccd, 0xbf483333,
    0xbf44999a, 0xbf410000, 0xbf3d6666, 0xbf39cccd, 0xbf363334, 0xbf32999a, 0xbf2f0000, 0xbf2b6666,
    0xbf27cccd, 0xbf243334, 0xbf20999a, 0xbf1d0000, 0xbf196666, 0xbf15cccd, 0xbf123334, 0xbf0e999a,
    0xbf0b0000, 0xbf076666, 0xbf03cccc, 0xbf003333, 0xbef93332, 0xbef20000, 0xbeeacccc, 0xbee3999a,
    0xbedc6666, 0xbed53333, 0xbece0000, 0xbec6cccc, 0xbebf999a, 0xbeb86666, 0xbeb13333, 0xbeaa0000,
    0xbea2cccc, 0xbe9b999a, 0xbe946666, 0xbe8d3334, 0xbe860000, 0xbe7d9999, 0xbe6f3333, 0xbe60cccd,
    0xbe526666, 0xbe440000, 0xbe35999a, 0xbe273333, 0xbe18cccd, 0xbe0a6666, 0xbdf80000, 0xbddb3334,
    0xbdc9eb85, 0xbdc428f7, 0xbdbe6667, 0xbdb8a3d7, 0xbdb2e148, 0xbdad1eb8, 0xbda75c2a, 0xbda1999a,
    0xbd9bd70a, 0xbd96147b, 0xbd9051eb, 0xbd8a8f5d, 0xbd84cccd, 0xbd7e147b, 0xbd728f5d, 0xbd670a3d,
    0xbd5b851f, 0xbd500000, 0xbd447ae1, 0xbd38f5c3, 0xbd2d70a3, 0xbd21eb85, 0xbd166667, 0xbd0ae148,
    0xbcfeb852, 0xbce7ae15, 0xbcd0a3d7, 0xbcb9999a, 0xbca28f5d, 0xbc8b851f, 0xbc68f5c3, 0xbc3ae148,
    0xbc1f3b64, 0xbc160418, 0xbc0ccccd, 0xbc039581, 0xbbf4bc6a, 0xbbe24dd3, 0xbbcfdf3b, 0xbbbd70a4,
    0xbbab020d, 0xbb989374, 0xbb8624dd, 0xbb676c8a, 0xbb428f5c, 0xbb1db22d, 0xbaf1a9fc, 0xbaa7ef9d,
    0xba7765ff, 0xba59e83e, 0xba3c6a80, 0xba1eecc1, 0xba016f01, 0xb9c7e283, 0xb98ce705, 0xb923d70b,
    0xb8ba1f4b, 0xb88aefb3, 0xb8378034, 0xb7b24206, 0xb70205ff, 0xb65a1a94, 0xb513a3b7, 0x00000000,
    0x3513a3b7, 0x365a1a94, 0x370205ff, 0x37b24206, 0x38378034, 0x388aefb3, 0x38ba1f4b, 0x3923d70b,
    0x398ce705, 0x39c7e283, 0x3a016f01, 0x3a1eecc1, 0x3a3c6a80, 0x3a59e83e, 0x3a7765ff, 0x3aa7ef9d,
    0x3af1a9fc, 0x3b1db22d, 0x3b428f5c, 0x3b676c8a, 0x3b8624dd, 0x3b989374, 0x3bab020d, 0x3bbd70a4,
    0x3bcfdf3b, 0x3be24dd3, 0x3bf4bc6a, 0x3c039581, 0x3c0ccccd, 0x3c160418, 0x3c1f3b64, 0x3c3ae148,
    0x3c68f5c3, 0x3c8b851f, 0x3ca28f5d, 0x3cb9999a, 0x3cd0a3d7, 0x3ce7ae15, 0x3cfeb852, 0x3d0ae148,
    0x3d166667, 0x3d21eb85, 0x3d2d70a3, 0x3d38f5c3, 0x3d447ae1, 0x3d500000, 0x3d5b851f, 0x3d670a3d,
    0x3d728f5d, 0x3d7e147b, 0x3d84cccd, 0x3d8a8f5d, 0x3d9051eb, 0x3d96147b, 0x3d9bd70a, 0x3da1999a,
    0x3da75c2a, 0x3dad1eb8, 0x3db2e148, 0x3db8a3d7, 0x3dbe6667, 0x3dc428f7, 0x3dc9eb85, 0x3ddb3334,
    0x3df80000, 0x3e0a6666, 0x3e18cccd, 0x3e273333, 0x3e35999a, 0x3e440000, 0x3e526666, 0x3e60cccd,
    0x3e6f3333, 0x3e7d9999, 0x3e860000, 0x3e8d3334, 0x3e946666, 0x3e9b999a, 0x3ea2cccc, 0x3eaa0000,
    0x3eb13333, 0x3eb86666, 0x3ebf999a, 0x3ec6cccc, 0x3ece0000, 0x3ed53333, 0x3edc6666, 0x3ee3999a,
    0x3eeacccc, 0x3ef20000, 0x3ef93332, 0x3f003333, 0x3f03cccc, 0x3f076666, 0x3f0b0000, 0x3f0e999a,
    0x3f123334, 0x3f15cccd, 0x3f196666, 0x3f1d0000, 0x3f20999a, 0x3f243334, 0x3f27cccd, 0x3f2b6666,
    0x3f2f0000, 0x3f32999a, 0x3f363334, 0x3f39cccd, 0x3f3d6666, 0x3f410000, 0x3f44999a, 0x3f483333,
    0x3f4bcccd, 0x3f4f6666, 0x3f530000, 0x3f56999a, 0x3f5a3333, 0x3f5dcccd, 0x3f616666, 0x3f650000,
    0x3f68999a, 0x3f6c3333, 0x3f6fcccd, 0x3f736666, 0x3f770000, 0x3f7a999a, 0x3f7e3333, 0x3f800000,
};

// clang-format on

struct Nf4Buffers {
    std::vector<uint8_t> packed, absmax_q;
    std::vector<float> nested_absmax;
    float offset = 0.0f;

    Nf4View view(int64_t numel) const {
        return Nf4View{packed.data(),
                       absmax_q.data(),
                       nested_absmax.data(),
                       dynamic_map_signed(),
                       nf4_code_table(),
                       offset,
                       numel};
    }
};

Nf4Buffers quantize(const std::vector<float>& w) {
    const auto n = static_cast<int64_t>(w.size());
    const Nf4Sizes s = nf4_storage_sizes(n);
    Nf4Buffers q;
    // Pre-filled with a pattern the quantizer must overwrite everywhere.
    q.packed.assign(static_cast<std::size_t>(s.packed_bytes), 0xA5);
    q.absmax_q.assign(static_cast<std::size_t>(s.blocks), 0xA5);
    q.nested_absmax.assign(static_cast<std::size_t>(s.nested_blocks), -7.0f);
    nf4_quantize(w.data(), n, q.packed.data(), q.absmax_q.data(), q.nested_absmax.data(),
                 &q.offset);
    return q;
}

std::vector<float> dequantize(const Nf4Buffers& q, int64_t numel) {
    std::vector<float> out(static_cast<std::size_t>(numel), std::nanf(""));
    nf4_dequantize(Ctx{}, out.data(), q.view(numel));
    return out;
}

int nibble(const std::vector<uint8_t>& packed, int64_t i) {
    const uint8_t byte = packed[static_cast<std::size_t>(i / 2)];
    return i % 2 == 0 ? byte >> 4 : byte & 0x0F;
}

// Largest half-gap between neighbouring entries of a sorted table.
float max_half_gap(const float* table, int n) {
    float gap = 0.0f;
    for (int k = 0; k + 1 < n; k++) {
        gap = std::max(gap, (table[k + 1] - table[k]) / 2.0f);
    }
    return gap;
}

// Distance from x to the nearest entry of a table, in double.
double nearest_distance(const float* table, int n, float x) {
    double best = std::numeric_limits<double>::infinity();
    for (int k = 0; k < n; k++) {
        best = std::min(best, std::fabs(static_cast<double>(x) - table[k]));
    }
    return best;
}

TEST(Nf4Tables, NF4LevelsAreBitsandbytesLevels) {
    const float* c = nf4_code_table();
    // The values of bitsandbytes' get_4bit_type("nf4"), as fp32.
    const double expected[16] = {-1.0,
                                 -0.6961928009986877,
                                 -0.5250730514526367,
                                 -0.39491748809814453,
                                 -0.28444138169288635,
                                 -0.18477343022823334,
                                 -0.09105003625154495,
                                 0.0,
                                 0.07958029955625534,
                                 0.16093020141124725,
                                 0.24611230194568634,
                                 0.33791524171829224,
                                 0.44070982933044434,
                                 0.5626170039176941,
                                 0.7229568362236023,
                                 1.0};
    for (int k = 0; k < 16; k++) {
        EXPECT_EQ(c[k], static_cast<float>(expected[k])) << "level " << k;
    }
}

TEST(Nf4Tables, DynamicMapMatchesTorchBitForBit) {
    const float* map = dynamic_map_signed();
    for (int k = 0; k < 256; k++) {
        EXPECT_EQ(std::bit_cast<uint32_t>(map[k]), kDynamicMapBits[k])
            << "entry " << k << ": got " << map[k] << ", torch gives "
            << std::bit_cast<float>(kDynamicMapBits[k]);
    }
    // Its shape, as create_dynamic_map builds it: 127 negatives, 0, 127 positives, then 1.
    EXPECT_EQ(map[127], 0.0f);
    EXPECT_EQ(map[255], 1.0f);
    for (int k = 0; k < 127; k++) {
        EXPECT_EQ(map[k], -map[254 - k]) << k;
    }
    EXPECT_TRUE(std::is_sorted(map, map + 256));
}

TEST(Nf4NearestCode, TreeThresholdsAreMidpointsAndTiesGoDown) {
    const float* c = nf4_code_table();
    for (int k = 0; k < 15; k++) {
        const double mid = (static_cast<double>(c[k]) + c[k + 1]) / 2.0;
        // Walk from the midpoint to the largest float that still gets level k: bnb's thresholds
        // are the midpoints rounded to fp32, so that boundary lies within an ulp or two of it.
        float boundary = static_cast<float>(mid);
        for (int steps = 0; steps < 64 && nf4_nearest_code(boundary) > k; steps++) {
            boundary = std::nextafter(boundary, -2.0f);
        }
        for (int steps = 0; steps < 64 && nf4_nearest_code(std::nextafter(boundary, 2.0f)) == k;
             steps++) {
            boundary = std::nextafter(boundary, 2.0f);
        }
        EXPECT_EQ(nf4_nearest_code(boundary), k) << "boundary " << k;
        EXPECT_EQ(nf4_nearest_code(std::nextafter(boundary, 2.0f)), k + 1) << "boundary " << k;
        EXPECT_NEAR(boundary, mid, 1e-7) << "boundary " << k;
        EXPECT_EQ(nf4_nearest_code(c[k]), k);
    }
    EXPECT_EQ(nf4_nearest_code(c[15]), 15);
    EXPECT_EQ(nf4_nearest_code(0.0f), 7);
    EXPECT_EQ(nf4_nearest_code(std::nanf("")), 0);  // bnb: every comparison with NaN is false
}

TEST(Nf4NearestCode, IsTheNearestLevelOnRandomInputs) {
    const float* c = nf4_code_table();
    for (const float x : test::random_floats(20000, -1.0f, 1.0f)) {
        const int q = nf4_nearest_code(x);
        EXPECT_LE(std::fabs(static_cast<double>(x) - c[q]), nearest_distance(c, 16, x) + 1e-7)
            << "x = " << x << " got code " << q;
    }
}

TEST(Nf4NearestCode, DynamicSearchIsTheNearestCode) {
    const float* map = dynamic_map_signed();
    // Every code's own value maps back to it (the search reaches all 256, including 0 and 255).
    for (int k = 0; k < 256; k++) {
        EXPECT_EQ(dynamic_nearest_code(map[k]), k) << map[k];
    }
    EXPECT_EQ(dynamic_nearest_code(-1.0f), 0);
    EXPECT_EQ(dynamic_nearest_code(std::nanf("")), 0);
    auto check = [&](float x) {
        const int q = dynamic_nearest_code(x);
        // The midpoint is rounded to fp32 in the kernel: allow that much either side of a tie.
        const double tolerance = 1e-7 * std::fabs(x) + 1e-13;
        EXPECT_LE(std::fabs(static_cast<double>(x) - map[q]),
                  nearest_distance(map, 256, x) + tolerance)
            << "x = " << x << " got code " << q;
    };
    for (const float x : test::random_floats(20000, -1.0f, 1.0f)) {
        check(x);
    }
    // The small-magnitude codes (10^-6 .. 10^-2) are where a binary search would go wrong.
    for (const float x : test::random_floats(20000, -0.02f, 0.02f, 1)) {
        check(x);
    }
}

TEST(Nf4Sizes, CountsBytesBlocksAndNestedBlocks) {
    const Nf4Sizes s = nf4_storage_sizes(173 * 409);  // 70757 values
    EXPECT_EQ(s.packed_bytes, 35379);
    EXPECT_EQ(s.blocks, 1106);
    EXPECT_EQ(s.nested_blocks, 5);
    const Nf4Sizes one = nf4_storage_sizes(1);
    EXPECT_EQ(one.packed_bytes, 1);
    EXPECT_EQ(one.blocks, 1);
    EXPECT_EQ(one.nested_blocks, 1);
    EXPECT_EQ(nf4_storage_sizes(64 * 256).nested_blocks, 1);
    EXPECT_EQ(nf4_storage_sizes(64 * 256 + 1).nested_blocks, 2);
    EXPECT_THROW(nf4_storage_sizes(-1), Error);
}

// Block 0 holds 2 * level[i % 16] (absmax 2), block 1 holds level[15 - i % 16] (absmax 1).
// Everything stored follows by hand from the format:
//   packed: first value of a pair in the high nibble -> 0x01 0x23 .. 0xEF, then 0xFE 0xDC .. 0x10
//   offset = mean(2, 1) = 1.5; absmax - offset = (+0.5, -0.5); nested_absmax = 0.5
//   codes of (+0.5, -0.5) / 0.5 = (+1, -1) in the dynamic map: 255 (1.0) and 0 (-0.99296875).
TEST(Nf4Layout, TwoHandWrittenBlocks) {
    const float* c = nf4_code_table();
    std::vector<float> w(128);
    for (int i = 0; i < 64; i++) {
        w[static_cast<std::size_t>(i)] = 2.0f * c[i % 16];
        w[static_cast<std::size_t>(64 + i)] = c[15 - i % 16];
    }
    const Nf4Buffers q = quantize(w);
    const std::vector<uint8_t> up = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF};
    const std::vector<uint8_t> down = {0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10};
    ASSERT_EQ(q.packed.size(), 64u);
    for (std::size_t j = 0; j < 32; j++) {
        EXPECT_EQ(q.packed[j], up[j % 8]) << "byte " << j;
        EXPECT_EQ(q.packed[32 + j], down[j % 8]) << "byte " << 32 + j;
    }
    EXPECT_EQ(q.offset, 1.5f);
    ASSERT_EQ(q.nested_absmax.size(), 1u);
    EXPECT_EQ(q.nested_absmax[0], 0.5f);
    ASSERT_EQ(q.absmax_q.size(), 2u);
    EXPECT_EQ(q.absmax_q[0], 255);
    EXPECT_EQ(q.absmax_q[1], 0);

    // Block 0's absmax comes back exactly (1.0 * 0.5 + 1.5); block 1's is 1.0035156 because the
    // dynamic map's most negative value is -0.99296875, not -1.
    const float absmax1 = dynamic_map_signed()[0] * 0.5f + 1.5f;
    EXPECT_NEAR(absmax1, 1.00351562, 1e-7);
    const std::vector<float> out = dequantize(q, 128);
    for (int i = 0; i < 64; i++) {
        EXPECT_EQ(out[static_cast<std::size_t>(i)], c[i % 16] * 2.0f) << i;
        EXPECT_EQ(out[static_cast<std::size_t>(64 + i)], c[15 - i % 16] * absmax1) << 64 + i;
    }
}

// One block of values between levels: x / absmax lands on either side of bnb's thresholds.
TEST(Nf4Layout, ValuesBetweenLevels) {
    // absmax 4 (the last value); scaled values 0.0398 (just above the 0/1 midpoint 0.03979),
    // 0.0397 (just below), 0.5 (below the 0.5017 midpoint: level 12), 0.51 (level 13), -0.9 (level
    // 0), -0.8 (level 1), 0.25 (level 10), then 1.0.
    const std::vector<float> w = {4 * 0.0398f, 4 * 0.0397f, 4 * 0.5f,  4 * 0.51f,
                                  4 * -0.9f,   4 * -0.8f,   4 * 0.25f, 4.0f};
    const Nf4Buffers q = quantize(w);
    const std::vector<uint8_t> expected = {0x87, 0xCD, 0x01, 0xAF};
    EXPECT_EQ(q.packed, expected);
    EXPECT_EQ(q.offset, 4.0f);
}

// bnb scales by the reciprocal, x * (1.0f / absmax), not x / absmax. The two differ in the last
// bit for some x, and where that straddles a threshold the codes differ: find such an x next to
// a threshold and check the quantizer follows the reciprocal.
TEST(Nf4Layout, ScalesByTheReciprocalOfAbsmax) {
    const float* c = nf4_code_table();
    int found = 0;
    for (const float absmax : {3.0f, 5.0f, 7.0f, 11.0f, 13.0f}) {
        const float inv = 1.0f / absmax;
        for (int k = 0; k < 15; k++) {
            const float mid = (c[k] + c[k + 1]) / 2.0f;
            float x = mid * absmax;
            for (int step = 0; step < 200; step++, x = std::nextafter(x, 2.0f * absmax)) {
                const uint8_t by_reciprocal = nf4_nearest_code(x * inv);
                if (by_reciprocal == nf4_nearest_code(x / absmax)) {
                    continue;
                }
                const std::vector<float> w = {x, absmax};
                const Nf4Buffers q = quantize(w);
                EXPECT_EQ(q.packed[0], (by_reciprocal << 4) | 15) << "x = " << x;
                found++;
                break;
            }
        }
    }
    RecordProperty("cases", found);
    EXPECT_GT(found, 0) << "no value found where x * (1 / absmax) and x / absmax differ";
}

// numel odd: the last byte's low nibble is bnb's zero padding (code 7). A tensor of zeros has
// absmax 0: bnb computes 0 * (1/0) = NaN, which its trees send to code 0, and dequantizes to 0.
TEST(Nf4Layout, OddLengthAndZeroBlock) {
    const std::vector<float> w = {0.5f, -1.0f, 0.25f};
    const Nf4Buffers q = quantize(w);
    ASSERT_EQ(q.packed.size(), 2u);
    EXPECT_EQ(q.packed[0], (nf4_nearest_code(0.5f) << 4) | 0);
    EXPECT_EQ(q.packed[1], (nf4_nearest_code(0.25f) << 4) | 7);

    const std::vector<float> zeros(5, 0.0f);
    const Nf4Buffers z = quantize(zeros);
    EXPECT_EQ(z.packed, std::vector<uint8_t>(3, 0x00));
    EXPECT_EQ(z.offset, 0.0f);
    EXPECT_EQ(z.nested_absmax[0], 0.0f);
    EXPECT_EQ(z.absmax_q[0], 0);
    for (const float v : dequantize(z, 5)) {
        EXPECT_EQ(v, 0.0f);
    }
}

struct Shape {
    int64_t rows, cols;
};

class Nf4RoundTrip : public ::testing::TestWithParam<Shape> {};

// For every value: its code is the nearest level to x * (1 / absmax), and
//   |w - deq(w)| <= absmax_b * (max half-gap of the NF4 levels) + |absmax_b - deq(absmax_b)|
// (+ a few fp32 ulps), where |absmax_b - deq(absmax_b)| <= nested_absmax * (max half-gap of the
// dynamic map). The absmax error is checked on its own too.
TEST_P(Nf4RoundTrip, ErrorWithinTheFormatsBound) {
    const auto [rows, cols] = GetParam();
    const int64_t n = rows * cols;
    const std::vector<float> w = test::random_floats(static_cast<std::size_t>(n), -0.3f, 0.3f);
    const Nf4Buffers q = quantize(w);
    const std::vector<float> out = dequantize(q, n);

    const float* c = nf4_code_table();
    const float* map = dynamic_map_signed();
    const float nf4_gap = max_half_gap(c, 16);
    const float map_gap = max_half_gap(map, 256);
    EXPECT_NEAR(nf4_gap, (1.0f - 0.6961928009986877f) / 2, 1e-7);  // between -1 and level 1

    const Nf4Sizes s = nf4_storage_sizes(n);
    std::vector<float> absmax(static_cast<std::size_t>(s.blocks), 0.0f);
    for (int64_t i = 0; i < n; i++) {
        float& a = absmax[static_cast<std::size_t>(i / kNf4BlockSize)];
        a = std::max(a, std::fabs(w[static_cast<std::size_t>(i)]));
    }
    double mean = 0.0;
    for (const float a : absmax) {
        mean += a;
    }
    mean /= static_cast<double>(s.blocks);
    EXPECT_NEAR(q.offset, mean, 1e-6 * mean);

    for (int64_t b = 0; b < s.blocks; b++) {
        const auto bi = static_cast<std::size_t>(b);
        const float nested = q.nested_absmax[static_cast<std::size_t>(b / kNf4NestedBlockSize)];
        const float deq_absmax = map[q.absmax_q[bi]] * nested + q.offset;
        EXPECT_LE(std::fabs(deq_absmax - absmax[bi]), nested * map_gap + 1e-6f * absmax[bi])
            << "block " << b;
    }
    for (int64_t nb = 0; nb < s.nested_blocks; nb++) {
        float expected = 0.0f;
        for (int64_t b = nb * kNf4NestedBlockSize;
             b < std::min(s.blocks, (nb + 1) * kNf4NestedBlockSize); b++) {
            expected =
                std::max(expected, std::fabs(absmax[static_cast<std::size_t>(b)] - q.offset));
        }
        EXPECT_EQ(q.nested_absmax[static_cast<std::size_t>(nb)], expected) << "nested " << nb;
    }

    int failures = 0;
    for (int64_t i = 0; i < n && failures < 10; i++) {
        const auto ii = static_cast<std::size_t>(i);
        const auto bi = static_cast<std::size_t>(i / kNf4BlockSize);
        const float x = w[ii] * (1.0f / absmax[bi]);
        const int code = nibble(q.packed, i);
        const bool nearest =
            std::fabs(static_cast<double>(x) - c[code]) <= nearest_distance(c, 16, x) + 1e-7;
        const float nested = q.nested_absmax[bi / kNf4NestedBlockSize];
        const float deq_absmax = map[q.absmax_q[bi]] * nested + q.offset;
        const float bound =
            absmax[bi] * nf4_gap + std::fabs(deq_absmax - absmax[bi]) + 4e-7f * absmax[bi];
        const float err = std::fabs(w[ii] - out[ii]);
        if (!nearest || !(err <= bound)) {
            ADD_FAILURE() << "index " << i << ": w = " << w[ii] << ", deq = " << out[ii]
                          << ", code " << code << " for x = " << x << ", error " << err
                          << " > bound " << bound;
            failures++;
        }
    }
    if (n % 2 == 1) {
        EXPECT_EQ(q.packed.back() & 0x0F, 7) << "padding nibble";
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Nf4RoundTrip,
                         ::testing::Values(Shape{1, 1}, Shape{1, 3}, Shape{64, 64}, Shape{33, 260},
                                           Shape{173, 409}, Shape{71, 3571}),
                         [](const ::testing::TestParamInfo<Shape>& param_info) {
                             return std::to_string(param_info.param.rows) + "X" +
                                    std::to_string(param_info.param.cols);
                         });

// bitsandbytes' own accuracy test (tests/test_functional.py test_4bit_quant, blocksize 64, NF4):
// on N(0, 1) data the mean absolute error is < 0.1 and the mean relative error < 0.28.
TEST(Nf4Accuracy, BitsandbytesBoundsOnNormalData) {
    std::mt19937_64 rng(test::test_seed());
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const int64_t n = 256 * 1031;
    std::vector<float> w(static_cast<std::size_t>(n));
    for (float& v : w) {
        v = normal(rng);
    }
    const std::vector<float> out = dequantize(quantize(w), n);
    double abs_err = 0.0, rel_err = 0.0;
    for (std::size_t i = 0; i < w.size(); i++) {
        const double e = std::fabs(static_cast<double>(w[i]) - out[i]);
        abs_err += e;
        rel_err += e / (std::fabs(static_cast<double>(w[i])) + 1e-8);
    }
    abs_err /= static_cast<double>(n);
    rel_err /= static_cast<double>(n);
    EXPECT_LT(abs_err, 0.1);
    EXPECT_LT(rel_err, 0.28);
    EXPECT_GT(abs_err, 0.01);  // it is a 4-bit format: an error this small would mean no rounding
}

TEST(Nf4Errors, BadInputsNameTheArgument) {
    std::vector<float> w = test::random_floats(100);
    w[37] = std::numeric_limits<float>::infinity();
    Nf4Buffers q;
    q.packed.resize(50);
    q.absmax_q.resize(2);
    q.nested_absmax.resize(1);
    try {
        nf4_quantize(w.data(), 100, q.packed.data(), q.absmax_q.data(), q.nested_absmax.data(),
                     &q.offset);
        FAIL() << "expected an error for a non-finite weight";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("w[37]"), std::string::npos) << e.what();
    }
    EXPECT_THROW(nf4_quantize(w.data(), 0, q.packed.data(), q.absmax_q.data(),
                              q.nested_absmax.data(), &q.offset),
                 Error);
    EXPECT_THROW(
        nf4_quantize(w.data(), 100, nullptr, q.absmax_q.data(), q.nested_absmax.data(), &q.offset),
        Error);

    Nf4Buffers ok = quantize(test::random_floats(100));
    std::vector<float> out(100);
    Nf4View view = ok.view(100);
    if (!kernels::op_supported(kernels::Op::kNf4Dequantize, Device::kCuda)) {
        EXPECT_THROW(nf4_dequantize(Ctx{Device::kCuda, nullptr}, out.data(), view), Error);
    }
    view.nested_code = nullptr;
    EXPECT_THROW(nf4_dequantize(Ctx{}, out.data(), view), Error);
    view = ok.view(100);
    view.offset = std::nanf("");
    EXPECT_THROW(nf4_dequantize(Ctx{}, out.data(), view), Error);
    view = ok.view(0);
    view.packed = nullptr;
    EXPECT_NO_THROW(nf4_dequantize(Ctx{}, nullptr, view));  // nothing to do
}

// The CUDA fast path of nf4_dequantize_bf16 (cols % 256 == 0, ld_out % 8 == 0): spans of 2048
// values that cross rows (cols 768, 2560), a last span of 1 to 7 steps, padded rows whose padding
// must stay as it was, and the 8B shape's row (4096 + 16); every word against the CPU.
TEST(Nf4DequantizeBf16Cuda, RowPathMatchesCpuBitForBit) {
    if (!cuda_available()) {
        GTEST_SKIP() << "no GPU present";
    }

    struct RowShape {
        int64_t rows, cols, ld;
    };

    std::mt19937_64 rng(11);
    for (const RowShape& sh :
         {RowShape{9, 768, 784}, RowShape{5, 256, 264}, RowShape{3, 2560, 2576},
          RowShape{2, 4096, 4112}, RowShape{13, 512, 512}}) {
        const int64_t n = sh.rows * sh.cols;
        std::normal_distribution<float> dist(0.0f, 0.02f);
        std::vector<float> w(static_cast<std::size_t>(n));
        for (auto& x : w) {
            x = dist(rng);
        }
        for (int64_t i = 64; i < 128; i++) {  // one block of outliers: absmax codes spread out
            w[static_cast<std::size_t>(i)] *= 40.0f;
        }
        const Nf4Buffers q = quantize(w);
        const std::vector<uint16_t> fill(static_cast<std::size_t>(sh.rows * sh.ld), 0xA5A5);
        std::vector<uint16_t> want = fill;
        nf4_dequantize_bf16(Ctx{}, want.data(), sh.ld, q.view(n), sh.rows, sh.cols);

        const std::vector<float> nested_code(dynamic_map_signed(), dynamic_map_signed() + 256);
        const std::vector<float> code(nf4_code_table(), nf4_code_table() + 16);
        const BackendBuffer packed = test::to_device(q.packed),
                            absmax_q = test::to_device(q.absmax_q);
        const BackendBuffer nested = test::to_device(q.nested_absmax);
        const BackendBuffer nested_code_d = test::to_device(nested_code),
                            code_d = test::to_device(code);
        BackendBuffer out = test::to_device(fill);
        const Nf4View view{static_cast<const uint8_t*>(packed.data()),
                           static_cast<const uint8_t*>(absmax_q.data()),
                           static_cast<const float*>(nested.data()),
                           static_cast<const float*>(nested_code_d.data()),
                           static_cast<const float*>(code_d.data()),
                           q.offset,
                           n};
        nf4_dequantize_bf16(test::kCudaCtx, static_cast<uint16_t*>(out.data()), sh.ld, view,
                            sh.rows, sh.cols);
        stream_synchronize(test::kCudaCtx);
        const std::vector<uint16_t> got = test::from_device<uint16_t>(out);
        int64_t differing = 0, first = -1;
        for (std::size_t i = 0; i < want.size(); i++) {
            if (got[i] != want[i]) {
                differing++;
                first = first < 0 ? static_cast<int64_t>(i) : first;
            }
        }
        EXPECT_EQ(differing, 0) << sh.rows << "x" << sh.cols << " ld " << sh.ld
                                << ": first differing word " << first;
    }
}

}  // namespace
}  // namespace qforge::kernels
