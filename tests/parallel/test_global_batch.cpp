// What is here: global batch = micro_batch x grad_accum x ranks, at the loader level: for one
// global batch G, every layout (1 rank x accum 6, 2 ranks x accum 3, 6 ranks x accum 1, ...)
// reads the same rows in every optimizer step of several epochs, including at the epoch
// boundaries where a ragged tail of N mod G rows is dropped. The rows are the real training
// rows of the Dolly slice tokenized by stories260K (seq_len 256, packed), as the trainer sees
// them; the ranks are simulated in one process (the loader needs no communication).
#include <algorithm>
#include <gtest/gtest.h>
#include <map>
#include <vector>

#include "kernels/common.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/train/data.h"
#include "runtime/train/data_loader.h"
#include "support/test_support.h"

namespace qforge::test {

namespace {

using train::DataLoader;
using train::Sequence;

const std::vector<Sequence>& dolly_rows() {
    static const std::vector<Sequence> rows = [] {
        const auto dir = data_dir();
        const Tokenizer tok = Tokenizer::load(dir / "models" / "stories260K");
        train::DataOptions o;
        o.files = {dir / "datasets" / "dolly-slice" / "dolly_151_alpaca.jsonl"};
        o.format = train::DataFormat::kAlpaca;
        o.seq_len = 256;
        o.packing = true;
        o.train_on_responses_only = false;
        o.validation_fraction = 0.1;
        o.seed = 1;
        return train::load_dataset(tok, o).train;
    }();
    return rows;
}

// Row identity by content (input and targets); the test checks the rows are distinct.
using RowKey = std::pair<std::vector<int32_t>, std::vector<int32_t>>;

// The sorted row ids read by optimizer step s, for `epochs` epochs of steps, when `world`
// ranks with accumulation `accum` and micro-batch B load `rows`.
std::vector<std::vector<int>> steps_read(const std::vector<Sequence>& rows,
                                         const std::map<RowKey, int>& id, int64_t B, int world,
                                         int64_t accum, int epochs, uint64_t seed) {
    std::vector<DataLoader> loaders;
    loaders.reserve(static_cast<size_t>(world));
    for (int r = 0; r < world; ++r) {
        loaders.emplace_back(rows, B, seed, r, world, accum);
    }
    const int64_t micro = loaders[0].steps_per_epoch();
    EXPECT_EQ(micro % accum, 0) << "an epoch must hold whole optimizer steps";
    std::vector<std::vector<int>> steps;
    for (int64_t s = 0; s < epochs * micro / accum; ++s) {
        std::vector<int> ids;
        for (auto& loader : loaders) {
            for (int64_t a = 0; a < accum; ++a) {
                const DataLoader::Batch b = loader.next();
                for (int64_t i = 0; i < b.B; ++i) {
                    const auto off = static_cast<std::ptrdiff_t>(i * b.T);
                    RowKey key{{b.input.begin() + off, b.input.begin() + off + b.T},
                               {b.targets.begin() + off, b.targets.begin() + off + b.T}};
                    ids.push_back(id.at(key));
                }
            }
        }
        std::sort(ids.begin(), ids.end());
        steps.push_back(ids);
    }
    for (const auto& loader : loaders) {  // every rank ends the epochs at the same place
        EXPECT_EQ(loader.state().epoch, epochs);
        EXPECT_EQ(loader.state().cursor, 0);
    }
    return steps;
}

}  // namespace

TEST(GlobalBatch, EveryLayoutOfOneGlobalBatchReadsTheSameRowsAcrossEpochs) {
    const auto& rows = dolly_rows();
    ASSERT_GE(rows.size(), 100u);
    std::map<RowKey, int> id;
    for (size_t i = 0; i < rows.size(); ++i) {
        id.emplace(RowKey{rows[i].input, rows[i].targets}, static_cast<int>(i));
    }
    ASSERT_EQ(id.size(), rows.size()) << "rows must be distinct to be identified";
    const auto n = static_cast<int64_t>(rows.size());

    struct Layout {
        int64_t B;
        int world;
        int64_t accum;
    };

    // Global batches that do not divide the row count, so every epoch drops a tail.
    const std::vector<std::vector<Layout>> cases = {
        {{2, 1, 6}, {2, 2, 3}, {2, 3, 2}, {2, 6, 1}, {4, 3, 1}, {1, 4, 3}, {1, 1, 12}},  // G = 12
        {{3, 1, 6}, {3, 2, 3}, {3, 3, 2}, {3, 6, 1}, {1, 3, 6}},                         // G = 18
        {{5, 1, 3}, {5, 3, 1}, {1, 5, 3}, {3, 5, 1}},                                    // G = 15
    };
    const uint64_t seed = test_seed();
    for (const auto& layouts : cases) {
        const Layout& ref = layouts[0];
        const int64_t G = ref.B * ref.world * ref.accum;
        ASSERT_NE(n % G, 0) << "pick a G that leaves a tail";
        const auto expected = steps_read(rows, id, ref.B, ref.world, ref.accum, 3, seed);
        ASSERT_EQ(static_cast<int64_t>(expected.size()), 3 * (n / G));
        for (size_t s = 0; s < expected.size(); ++s) {
            ASSERT_EQ(static_cast<int64_t>(expected[s].size()), G);
            EXPECT_EQ(std::adjacent_find(expected[s].begin(), expected[s].end()), expected[s].end())
                << "a row read twice in one step";
        }
        for (const Layout& l : layouts) {
            ASSERT_EQ(l.B * l.world * l.accum, G);
            EXPECT_EQ(steps_read(rows, id, l.B, l.world, l.accum, 3, seed), expected)
                << "G " << G << ": micro_batch " << l.B << " x " << l.world << " ranks x accum "
                << l.accum << " reads other rows than micro_batch " << ref.B << " x " << ref.world
                << " x " << ref.accum;
        }
    }
}

TEST(GlobalBatch, TooFewRowsForOneGlobalBatchIsRefused) {
    const auto& rows = dolly_rows();
    const auto n = static_cast<int64_t>(rows.size());
    try {
        DataLoader loader(rows, n / 2, 1, 0, 1, 3);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot fill one global batch"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(DataLoader(rows, 2, 1, 0, 1, 0), Error);
}

}  // namespace qforge::test
