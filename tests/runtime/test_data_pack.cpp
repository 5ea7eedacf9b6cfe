// What is here: tests of runtime/train/data_pack.h: the row layout, truncation, and that
// packing trains on exactly the pairs each example gives alone.
#include <gtest/gtest.h>
#include <random>

#include "kernels/common.h"
#include "runtime/train/data_pack.h"
#include "test_data_helpers.h"

namespace qforge::train {
namespace {

constexpr int32_t kPad = 2;

// n random examples of 2..max_len tokens (ids 3..499, never the pad id), random masks.
std::vector<Example> random_examples(size_t n, int64_t max_len, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int64_t> len(2, max_len);
    std::uniform_int_distribution<int32_t> id(3, 499);
    std::vector<Example> out(n);
    for (size_t i = 0; i < n; ++i) {
        const auto L = static_cast<size_t>(len(rng));
        for (size_t j = 0; j < L; ++j) {
            out[i].tokens.push_back(id(rng));
            out[i].target_mask.push_back(static_cast<uint8_t>(rng() % 3 != 0));
        }
        out[i].source = "random:" + std::to_string(i + 1);
    }
    return out;
}

bool same_row(const Sequence& a, const Sequence& b) {
    return a.input == b.input && a.targets == b.targets && a.segment_ids == b.segment_ids &&
           a.positions == b.positions;
}

TEST(DataPack, RowLayoutOfTwoExamplesAndPadding) {
    Example a{{1, 10, 11, 12}, {0, 0, 1, 1}, "a:1"};
    Example b{{1, 20, 21}, {0, 1, 1}, "a:2"};
    const Sequence row = data_make_row({&a, &b}, 9, kPad);
    const int32_t I = kIgnoreIndex;
    EXPECT_EQ(row.input, (std::vector<int32_t>{1, 10, 11, 12, 1, 20, 21, kPad, kPad}));
    // Token j predicts token j+1 when that one is masked in; each example's last token and
    // the padding predict nothing (so nothing is learned across the boundary).
    EXPECT_EQ(row.targets, (std::vector<int32_t>{I, 11, 12, I, 20, 21, I, I, I}));
    EXPECT_EQ(row.segment_ids, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 2, 2}));
    EXPECT_EQ(row.positions, (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2, 0, 1}));
}

TEST(DataPack, TruncateKeepsThePrefix) {
    auto ex = random_examples(1, 50, test::test_seed())[0];
    const auto original = ex;
    EXPECT_FALSE(data_truncate(ex, static_cast<int64_t>(ex.tokens.size())));
    EXPECT_EQ(ex.tokens, original.tokens);
    const int64_t T = static_cast<int64_t>(ex.tokens.size()) - 1;
    EXPECT_TRUE(data_truncate(ex, T));
    ASSERT_EQ(ex.tokens.size(), static_cast<size_t>(T));
    ASSERT_EQ(ex.target_mask.size(), static_cast<size_t>(T));
    EXPECT_TRUE(std::equal(ex.tokens.begin(), ex.tokens.end(), original.tokens.begin()));
    EXPECT_TRUE(
        std::equal(ex.target_mask.begin(), ex.target_mask.end(), original.target_mask.begin()));
}

class DataPackRandom : public ::testing::TestWithParam<int64_t> {};

TEST_P(DataPackRandom, PackedTrainsOnTheSamePairsAsUnpacked) {
    const int64_t T = GetParam();
    auto examples = random_examples(300, T, test::test_seed());
    const auto unpacked = data_pack(examples, T, false, kPad);
    const auto packed = data_pack(examples, T, true, kPad);
    ASSERT_EQ(unpacked.size(), examples.size());
    EXPECT_LT(packed.size(), unpacked.size() * 3 / 4) << "packing should save rows";

    // Unpacked row i is example i alone.
    for (size_t i = 0; i < examples.size(); ++i) {
        EXPECT_TRUE(same_row(unpacked[i], data_make_row({&examples[i]}, T, kPad))) << i;
    }
    const auto pairs = test::training_pairs(unpacked, T);
    EXPECT_EQ(test::training_pairs(packed, T), pairs);
    int64_t expected_pairs = 0;
    for (const auto& ex : examples) {
        for (size_t j = 1; j < ex.tokens.size(); ++j) {
            expected_pairs += ex.target_mask[j];
        }
    }
    int64_t total = 0;
    for (const auto& [pair, count] : pairs) {
        total += count;
    }
    EXPECT_EQ(total, expected_pairs);

    // The packed rows hold every example once.
    auto segments = test::row_segments(packed, kPad);
    std::vector<std::vector<int32_t>> expected;
    for (const auto& ex : examples) {
        expected.push_back(ex.tokens);
    }
    std::sort(segments.begin(), segments.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(segments, expected);
}

TEST_P(DataPackRandom, PackingIsFirstFitInTheGivenOrder) {
    const int64_t T = GetParam();
    auto examples = random_examples(200, T, test::test_seed());
    // Reference: scan the open rows left to right for the first with room.
    std::vector<std::vector<const Example*>> members;
    std::vector<int64_t> used;
    for (const auto& ex : examples) {
        const auto L = static_cast<int64_t>(ex.tokens.size());
        size_t r = 0;
        while (r < members.size() && used[r] + L > T) {
            ++r;
        }
        if (r == members.size()) {
            members.emplace_back();
            used.push_back(0);
        }
        members[r].push_back(&ex);
        used[r] += L;
    }
    const auto packed = data_pack(examples, T, true, kPad);
    ASSERT_EQ(packed.size(), members.size());
    for (size_t r = 0; r < members.size(); ++r) {
        EXPECT_TRUE(same_row(packed[r], data_make_row(members[r], T, kPad))) << "row " << r;
    }
}

INSTANTIATE_TEST_SUITE_P(SeqLen, DataPackRandom, ::testing::Values(33, 64, 257),
                         [](const auto& param_info) {
                             return "T" + std::to_string(param_info.param);
                         });

TEST(DataPack, RejectsWhatDoesNotFit) {
    auto examples = random_examples(3, 40, test::test_seed());
    examples[1].tokens.resize(41, 7);
    examples[1].target_mask.resize(41, 1);
    EXPECT_THROW(data_pack(examples, 40, true, kPad), Error);
    EXPECT_THROW(data_make_row({&examples[1]}, 40, kPad), Error);
    Example bad{{1, 2, 3}, {0, 1}, "bad:1"};
    EXPECT_THROW(data_make_row({&bad}, 8, kPad), Error);
}

}  // namespace
}  // namespace qforge::train
