// What is here: the data pipeline on real data: the 151-record Dolly slice (alpaca form)
// through the stories260K tokenizer.
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/train/data_examples.h"
#include "runtime/train/data_render.h"
#include "test_data_stories.h"

namespace qforge::train {
namespace {

struct AlpacaLine {
    std::string instruction, input, output;
};

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) {
        out.push_back(nlohmann::json::parse(line));
    }
    return out;
}

std::vector<AlpacaLine> dolly_lines() {
    std::vector<AlpacaLine> out;
    for (const auto& j : read_jsonl(test::dolly_alpaca())) {
        out.push_back({j["instruction"], j["input"], j["output"]});
    }
    return out;
}

DataOptions dolly_options(int64_t seq_len, bool packing, double validation_fraction = 0.1) {
    DataOptions o;
    o.files = {test::dolly_alpaca()};
    o.seq_len = seq_len;
    o.packing = packing;
    o.validation_fraction = validation_fraction;
    o.seed = 1234;
    return o;
}

// The ids of tokens [begin, end) of `ex` whose mask equals `masked`.
std::vector<int32_t> tokens_where(const Example& ex, bool masked) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < ex.tokens.size(); ++i) {
        if ((ex.target_mask[i] != 0) == masked) {
            ids.push_back(ex.tokens[i]);
        }
    }
    return ids;
}

TEST(DataDolly, EveryLineBecomesAnExample) {
    const auto data = load_dataset(test::stories_tokenizer(), dolly_options(512, false, 0.0));
    EXPECT_EQ(data.stats.lines, 151);
    EXPECT_EQ(data.stats.examples, 151);
    EXPECT_EQ(data.stats.bad_lines_skipped, 0);
    EXPECT_EQ(data.stats.train_rows, 151);
    EXPECT_EQ(data.train.size(), 151u);
    EXPECT_TRUE(data.validation.empty());
    EXPECT_GT(data.stats.truncated, 0) << "some Dolly answers are longer than 512 tokens";
    EXPECT_LT(data.stats.truncated, 151);
}

// The raw Dolly file holds the prompts as the dataset's authors rendered them: the built-in
// template must reproduce them byte for byte (they stop before the final newline).
TEST(DataDolly, AlpacaPromptMatchesTheDatasetsOwnPrompts) {
    const auto lines = dolly_lines();
    const auto raw = read_jsonl(test::data_dir() / "datasets/dolly-slice/dolly_151_raw.jsonl");
    ASSERT_EQ(lines.size(), raw.size());
    int with_input = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        EXPECT_EQ(data_alpaca_prompt(lines[i].instruction, lines[i].input),
                  raw[i]["prompt"].get<std::string>() + "\n")
            << "line " << i + 1;
        with_input += lines[i].input.empty() ? 0 : 1;
    }
    EXPECT_EQ(with_input, 47);  // both template variants are exercised
}

TEST(DataDolly, MaskCoversExactlyTheResponse) {
    const auto& tok = test::stories_tokenizer();
    const auto lines = dolly_lines();
    DataStats stats;
    std::vector<std::string> skipped;
    const auto examples = data_read_examples(tok, dolly_options(256, true), stats, skipped);
    ASSERT_EQ(examples.size(), lines.size());
    const int32_t eos = *tok.eos_id(), bos = *tok.bos_id();
    for (size_t i = 0; i < examples.size(); ++i) {
        const auto& ex = examples[i];
        const auto& line = lines[i];
        SCOPED_TRACE(ex.source);
        EXPECT_EQ(ex.source, test::dolly_alpaca().string() + ":" + std::to_string(i + 1));
        ASSERT_EQ(ex.tokens.size(), ex.target_mask.size());
        // The whole text is tokenized at once, as inference will see it, then EOS.
        const std::string prompt = data_alpaca_prompt(line.instruction, line.input);
        auto expected = tok.encode(prompt + line.output);
        expected.push_back(eos);
        EXPECT_EQ(ex.tokens, expected);
        EXPECT_EQ(ex.tokens.front(), bos);
        // Mask: 0...0 1...1, and the ones decode to exactly the output.
        const auto first = std::find(ex.target_mask.begin(), ex.target_mask.end(), 1);
        EXPECT_TRUE(std::all_of(first, ex.target_mask.end(), [](uint8_t m) { return m == 1; }));
        EXPECT_EQ(tok.decode(tokens_where(ex, true), true), line.output);
        EXPECT_EQ(tokens_where(ex, true).back(), eos);
        EXPECT_EQ(tok.decode(tokens_where(ex, false), true), prompt);
    }
}

TEST(DataDolly, PackedAndUnpackedTrainOnTheSamePairs) {
    const auto& tok = test::stories_tokenizer();
    const int64_t T = 512;  // short enough that some answers are truncated
    const auto packed = load_dataset(tok, dolly_options(T, true));
    const auto unpacked = load_dataset(tok, dolly_options(T, false));
    EXPECT_EQ(unpacked.stats.train_rows, 151 - 15);
    EXPECT_EQ(unpacked.stats.validation_rows, 15);
    EXPECT_LT(packed.stats.train_rows, unpacked.stats.train_rows);
    EXPECT_EQ(packed.stats.truncated, unpacked.stats.truncated);
    EXPECT_GT(packed.stats.truncated, 0);
    EXPECT_EQ(packed.stats.target_tokens, unpacked.stats.target_tokens);

    const auto pairs = test::training_pairs(unpacked.train, T);
    EXPECT_EQ(test::training_pairs(packed.train, T), pairs);
    EXPECT_EQ(test::training_pairs(packed.validation, T),
              test::training_pairs(unpacked.validation, T));
    int64_t total = 0;
    for (const auto& [pair, count] : pairs) {
        total += count;
    }
    EXPECT_EQ(total, unpacked.stats.target_tokens);

    // Packing fills rows: at most one row (the last opened) may be less than half full.
    const int32_t pad = data_pad_id(tok);
    int half_empty = 0;
    for (const auto& row : packed.train) {
        size_t used = 0;
        for (const auto& segment : test::row_segments({row}, pad)) {
            used += segment.size();
        }
        half_empty += (static_cast<int64_t>(used) * 2 < T) ? 1 : 0;
    }
    EXPECT_LE(half_empty, 1);
}

TEST(DataDolly, ValidationSplitIsDeterministicAndDisjoint) {
    const auto& tok = test::stories_tokenizer();
    const int64_t T = 8192;  // no truncation: segments are whole examples
    const int32_t pad = data_pad_id(tok);
    const auto a = load_dataset(tok, dolly_options(T, true));
    const auto b = load_dataset(tok, dolly_options(T, true));
    ASSERT_EQ(a.stats.truncated, 0);
    ASSERT_EQ(a.train.size(), b.train.size());
    for (size_t r = 0; r < a.train.size(); ++r) {
        EXPECT_EQ(a.train[r].input, b.train[r].input);
        EXPECT_EQ(a.train[r].targets, b.train[r].targets);
    }
    ASSERT_EQ(a.validation.size(), b.validation.size());
    for (size_t r = 0; r < a.validation.size(); ++r) {
        EXPECT_EQ(a.validation[r].input, b.validation[r].input);
    }

    const auto train = test::row_segments(a.train, pad);
    const auto validation = test::row_segments(a.validation, pad);
    EXPECT_EQ(train.size(), 136u);
    EXPECT_EQ(validation.size(), 15u);  // round(151 * 0.1)
    std::set<std::vector<int32_t>> train_set(train.begin(), train.end()),
        validation_set(validation.begin(), validation.end()), all = train_set;
    all.insert(validation_set.begin(), validation_set.end());
    EXPECT_EQ(all.size(), 151u) << "train and validation are disjoint and cover every example";

    auto other_options = dolly_options(T, true);
    other_options.seed = 99;
    const auto c = load_dataset(tok, other_options);
    const auto other_validation = test::row_segments(c.validation, pad);
    EXPECT_NE(std::set<std::vector<int32_t>>(other_validation.begin(), other_validation.end()),
              validation_set)
        << "another seed holds out other examples";
}

TEST(DataDolly, AllTokensAreTargetsWhenNotResponsesOnly) {
    auto o = dolly_options(8192, false, 0.0);
    o.train_on_responses_only = false;
    const auto all = load_dataset(test::stories_tokenizer(), o);
    o.train_on_responses_only = true;
    const auto responses = load_dataset(test::stories_tokenizer(), o);
    int64_t tokens = 0;
    for (size_t r = 0; r < all.train.size(); ++r) {
        const auto& row = all.train[r];
        const auto length = std::count_if(row.segment_ids.begin(), row.segment_ids.end(),
                                          [](int32_t s) { return s == 0; });
        tokens += length;
        for (int64_t t = 0; t + 1 < length; ++t) {
            EXPECT_EQ(row.targets[static_cast<size_t>(t)], row.input[static_cast<size_t>(t + 1)]);
        }
    }
    EXPECT_EQ(all.stats.target_tokens, tokens - 151);  // every token but each example's first
    EXPECT_LT(responses.stats.target_tokens, all.stats.target_tokens);
}

}  // namespace
}  // namespace qforge::train
