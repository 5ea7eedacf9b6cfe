// What is here: tests of runtime/train/data_loader.h: epoch order, sharding across ranks,
// the (B, T) layout and exact resume.
#include <algorithm>
#include <gtest/gtest.h>
#include <iterator>
#include <numeric>
#include <random>
#include <set>

#include "kernels/common.h"
#include "runtime/train/data_loader.h"
#include "support/test_support.h"

namespace qforge::train {
namespace {

// n rows of T whose every field is random, with input[0] = the row's index (to identify it).
std::vector<Sequence> random_rows(int64_t n, int64_t T, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<Sequence> rows(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        auto& r = rows[static_cast<size_t>(i)];
        for (int64_t t = 0; t < T; ++t) {
            r.input.push_back(static_cast<int32_t>(rng() % 1000 + 1));
            r.targets.push_back(static_cast<int32_t>(rng() % 1000 + 1));
            r.segment_ids.push_back(static_cast<int32_t>(rng() % 5));
            r.positions.push_back(static_cast<int32_t>(rng() % 64));
        }
        r.input[0] = static_cast<int32_t>(i);
    }
    return rows;
}

// The row indices of one batch (read back from input[0] of each row).
std::vector<int32_t> batch_rows(const DataLoader::Batch& batch) {
    std::vector<int32_t> ids;
    for (int64_t b = 0; b < batch.B; ++b) {
        ids.push_back(batch.input[static_cast<size_t>(b * batch.T)]);
    }
    return ids;
}

std::vector<int32_t> epoch_rows(DataLoader& loader) {
    std::vector<int32_t> ids;
    for (int64_t s = 0; s < loader.steps_per_epoch(); ++s) {
        const auto batch = batch_rows(loader.next());
        ids.insert(ids.end(), batch.begin(), batch.end());
    }
    return ids;
}

TEST(DataLoader, BatchIsRowsLaidOutRowMajor) {
    const auto rows = random_rows(10, 7, test::test_seed());
    DataLoader loader(rows, 3, 5);
    EXPECT_EQ(loader.steps_per_epoch(), 3);
    const auto batch = loader.next();
    ASSERT_EQ(batch.B, 3);
    ASSERT_EQ(batch.T, 7);
    ASSERT_EQ(batch.input.size(), 21u);
    for (int64_t b = 0; b < 3; ++b) {
        const auto& row = rows[static_cast<size_t>(batch.input[static_cast<size_t>(b * 7)])];
        for (size_t t = 0; t < 7; ++t) {
            const size_t k = static_cast<size_t>(b * 7) + t;
            EXPECT_EQ(batch.input[k], row.input[t]);
            EXPECT_EQ(batch.targets[k], row.targets[t]);
            EXPECT_EQ(batch.segment_ids[k], row.segment_ids[t]);
            EXPECT_EQ(batch.positions[k], row.positions[t]);
        }
    }
}

TEST(DataLoader, EpochVisitsDistinctRowsAndReshuffles) {
    const auto rows = random_rows(40, 4, test::test_seed());
    DataLoader loader(rows, 4, 11);
    const auto e0 = epoch_rows(loader);
    EXPECT_EQ(loader.state().epoch, 1);
    EXPECT_EQ(loader.state().cursor, 0);
    const auto e1 = epoch_rows(loader);
    EXPECT_EQ(std::set<int32_t>(e0.begin(), e0.end()).size(), 40u);
    EXPECT_EQ(std::set<int32_t>(e1.begin(), e1.end()).size(), 40u);
    EXPECT_NE(e0, e1) << "each epoch draws a new order";
    std::vector<int32_t> identity(40);
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_NE(e0, identity) << "the order is shuffled";

    DataLoader same(rows, 4, 11), other(rows, 4, 12);
    EXPECT_EQ(epoch_rows(same), e0);
    EXPECT_NE(epoch_rows(other), e0);
}

TEST(DataLoader, TwoRanksSplitWhatOneRankSees) {
    const auto rows = random_rows(48, 4, test::test_seed());
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
        DataLoader one(rows, 2, 9), r0(rows, 1, 9, 0, 2), r1(rows, 1, 9, 1, 2);
        for (DataLoader* l : {&one, &r0, &r1}) {
            l->restore({epoch, 0});
        }
        EXPECT_EQ(one.steps_per_epoch(), 24);
        EXPECT_EQ(r0.steps_per_epoch(), 24);
        const auto all = epoch_rows(one), a = epoch_rows(r0), b = epoch_rows(r1);
        std::set<int32_t> sa(a.begin(), a.end()), sb(b.begin(), b.end());
        EXPECT_EQ(sa.size(), 24u);
        EXPECT_EQ(sb.size(), 24u);
        std::vector<int32_t> overlap;
        std::set_intersection(sa.begin(), sa.end(), sb.begin(), sb.end(),
                              std::back_inserter(overlap));
        EXPECT_TRUE(overlap.empty()) << "ranks must not share rows";
        // Same global order: with B=2 on one rank and B=1 on two ranks, step s of the single
        // rank is (step s of rank 0, step s of rank 1).
        for (size_t s = 0; s < 24; ++s) {
            EXPECT_EQ(all[2 * s], a[s]);
            EXPECT_EQ(all[2 * s + 1], b[s]);
        }
    }
}

TEST(DataLoader, RaggedTailIsDroppedEquallyOnAllRanks) {
    const auto rows = random_rows(23, 3, test::test_seed());
    std::set<int32_t> seen;
    for (int rank = 0; rank < 3; ++rank) {
        DataLoader loader(rows, 2, 4, rank, 3);
        EXPECT_EQ(loader.steps_per_epoch(), 3);  // 23 / 3 = 7 rows per rank -> 3 batches of 2
        for (int32_t id : epoch_rows(loader)) {
            EXPECT_TRUE(seen.insert(id).second) << "row " << id << " seen twice";
        }
    }
    EXPECT_EQ(seen.size(), 18u);
}

TEST(DataLoader, RestoreContinuesTheExactSequence) {
    const auto rows = random_rows(30, 5, test::test_seed());
    DataLoader reference(rows, 4, 21, 1, 2);  // 15 rows per rank -> 3 steps per epoch
    std::vector<DataLoader::State> states;
    std::vector<DataLoader::Batch> batches;
    for (int i = 0; i < 10; ++i) {  // crosses three epoch boundaries
        states.push_back(reference.state());
        batches.push_back(reference.next());
    }
    for (size_t k : {0u, 2u, 3u, 7u}) {
        DataLoader resumed(rows, 4, 21, 1, 2);
        resumed.restore(states[k]);
        EXPECT_EQ(resumed.state().epoch, states[k].epoch);
        for (size_t i = k; i < batches.size(); ++i) {
            const auto b = resumed.next();
            EXPECT_EQ(b.input, batches[i].input) << "resumed at " << k << ", step " << i;
            EXPECT_EQ(b.targets, batches[i].targets);
            EXPECT_EQ(b.segment_ids, batches[i].segment_ids);
            EXPECT_EQ(b.positions, batches[i].positions);
        }
    }
    EXPECT_EQ(states[3].epoch, 1);
    EXPECT_EQ(states[3].cursor, 0);
    EXPECT_EQ(states[7].cursor, 1);
}

TEST(DataLoader, RejectsBadArguments) {
    const auto rows = random_rows(6, 4, test::test_seed());
    EXPECT_THROW(DataLoader(rows, 0, 1), Error);
    EXPECT_THROW(DataLoader(rows, 4, 1, 0, 2), Error);  // 3 rows per rank < B
    EXPECT_THROW(DataLoader(rows, 1, 1, 2, 2), Error);  // rank outside 0..1
    EXPECT_THROW(DataLoader(rows, 1, 1, 0, 0), Error);
    const std::vector<Sequence> none;
    EXPECT_THROW(DataLoader(none, 1, 1), Error);
    auto ragged = rows;
    ragged[3].positions.pop_back();
    EXPECT_THROW(DataLoader(ragged, 1, 1), Error);
    DataLoader loader(rows, 2, 1);
    EXPECT_THROW(loader.restore({0, 3}), Error);
    EXPECT_THROW(loader.restore({-1, 0}), Error);
    EXPECT_THROW(loader.restore({0, -1}), Error);
}

}  // namespace
}  // namespace qforge::train
