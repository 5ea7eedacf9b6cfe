// What is here: tests of runtime/train/data_shuffle.h: portable, seeded permutations.
#include <algorithm>
#include <gtest/gtest.h>
#include <numeric>

#include "kernels/common.h"
#include "runtime/train/data_shuffle.h"
#include "support/test_support.h"

namespace qforge::train {
namespace {

TEST(DataShuffle, PermutationHoldsEveryIndexOnce) {
    const uint64_t seed = test::test_seed();
    for (int64_t n : {0, 1, 2, 17, 1000}) {
        auto perm = data_permutation(n, seed);
        ASSERT_EQ(perm.size(), static_cast<size_t>(n));
        std::sort(perm.begin(), perm.end());
        std::vector<int64_t> expect(static_cast<size_t>(n));
        std::iota(expect.begin(), expect.end(), int64_t{0});
        EXPECT_EQ(perm, expect) << "n=" << n;
    }
}

TEST(DataShuffle, SameSeedSameOrderOtherSeedOtherOrder) {
    const uint64_t seed = test::test_seed();
    EXPECT_EQ(data_permutation(500, seed), data_permutation(500, seed));
    EXPECT_NE(data_permutation(500, seed), data_permutation(500, seed + 1));
    EXPECT_NE(data_mix_seed(seed, 0), data_mix_seed(seed, 1));
    EXPECT_NE(data_mix_seed(seed, 0), data_mix_seed(seed + 1, 0));
}

// Pinned against an independent Python implementation of std::mt19937_64, splitmix64 and
// the same Fisher-Yates/rejection steps: a change here changes every run's data order, and a
// standard library that disagreed would break "same seed -> same rows on every machine".
TEST(DataShuffle, MatchesPortableReference) {
    EXPECT_EQ(data_permutation(20, 42), (std::vector<int64_t>{7, 1,  11, 13, 2, 19, 16, 14, 0, 15,
                                                              9, 12, 10, 17, 8, 18, 3,  4,  5, 6}));
    EXPECT_EQ(data_mix_seed(7, 3), 0x5d4121c5e5b74d57ull);
    EXPECT_EQ(data_permutation(20, data_mix_seed(7, 3)),
              (std::vector<int64_t>{3, 8,  6, 10, 12, 2,  13, 19, 14, 18,
                                    5, 16, 0, 4,  1,  17, 15, 7,  11, 9}));
}

TEST(DataShuffle, UniformBelowIsInRangeAndUnbiased) {
    std::mt19937_64 rng(test::test_seed());
    constexpr uint64_t n = 7;
    constexpr int draws = 70000;
    std::vector<int> counts(n, 0);
    for (int i = 0; i < draws; ++i) {
        const uint64_t x = data_uniform_below(rng, n);
        ASSERT_LT(x, n);
        ++counts[x];
    }
    // Each bucket expects 10000 with sd ~93; 5 sd is far beyond chance.
    for (uint64_t k = 0; k < n; ++k) {
        EXPECT_NEAR(counts[k], draws / static_cast<int>(n), 470) << "bucket " << k;
    }
    EXPECT_THROW(data_uniform_below(rng, 0), Error);
}

}  // namespace
}  // namespace qforge::train
