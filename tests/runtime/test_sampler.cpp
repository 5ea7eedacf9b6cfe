// Sampler: greedy picks the first maximum; top-k/top-p never return tokens outside the kept
// set; a seed makes sampling replayable; the empirical distribution follows softmax(l / T).
#include <cmath>
#include <gtest/gtest.h>
#include <map>

#include "kernels/common.h"
#include "runtime/generate/sampler.h"
#include "support/test_support.h"

namespace qforge {
namespace {

TEST(Sampler, GreedyTakesFirstMaximum) {
    std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
    Sampler s({});
    EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, TopKKeepsOnlyTheKLargest) {
    auto logits = test::random_floats(50, -3.0f, 3.0f);
    std::vector<std::pair<float, int>> sorted;
    for (int i = 0; i < 50; ++i) {
        sorted.push_back({logits[static_cast<std::size_t>(i)], i});
    }
    std::sort(sorted.rbegin(), sorted.rend());
    Sampler s({1.5f, 3, 1.0f, 7});
    for (int n = 0; n < 500; ++n) {
        auto row = logits;
        const int id = s.sample(row);
        EXPECT_TRUE(id == sorted[0].second || id == sorted[1].second || id == sorted[2].second);
    }
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
    // probabilities 0.5, 0.3, 0.15, 0.05 at T = 1: top_p 0.75 keeps the first two.
    std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    Sampler s({1.0f, 0, 0.75f, 3});
    std::map<int, int> counts;
    for (int n = 0; n < 2000; ++n) {
        auto row = logits;
        counts[s.sample(row)]++;
    }
    EXPECT_EQ(counts.count(2) + counts.count(3), 0u);
    EXPECT_NEAR(counts[0] / 2000.0, 0.5 / 0.8, 0.05);
}

TEST(Sampler, SeedReplaysAndDistributionFollowsSoftmax) {
    const std::vector<float> logits = {1.0f, 0.0f, -1.0f};
    Sampler a({0.7f, 0, 1.0f, 42}), b({0.7f, 0, 1.0f, 42});
    std::vector<int> counts(3);
    for (int n = 0; n < 4000; ++n) {
        auto r1 = logits, r2 = logits;
        const int x = a.sample(r1);
        ASSERT_EQ(x, b.sample(r2));
        counts[static_cast<std::size_t>(x)]++;
    }
    double z = 0;
    for (float l : logits) {
        z += std::exp(l / 0.7);
    }
    for (int i = 0; i < 3; ++i) {
        EXPECT_NEAR(counts[static_cast<std::size_t>(i)] / 4000.0,
                    std::exp(logits[static_cast<std::size_t>(i)] / 0.7) / z, 0.03);
    }
}

TEST(Sampler, RejectsBadParameters) {
    EXPECT_THROW(Sampler({-1.0f, 0, 1.0f, 0}), Error);
    EXPECT_THROW(Sampler({1.0f, 0, 0.0f, 0}), Error);
    EXPECT_THROW(Sampler({1.0f, 0, 1.5f, 0}), Error);
}

}  // namespace
}  // namespace qforge
