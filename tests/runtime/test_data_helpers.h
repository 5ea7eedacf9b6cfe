// What is here: helpers the data-pipeline tests share: writing JSONL files, the stories
// tokenizer, and the (context, target) pairs a set of rows trains on.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/train/data.h"
#include "support/test_support.h"

namespace qforge::test {

inline std::filesystem::path write_text_file(const std::filesystem::path& path,
                                             const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path;
}

inline std::filesystem::path stories_dir() {
    return data_dir() / "models/stories260K";
}

inline std::filesystem::path dolly_alpaca() {
    return data_dir() / "datasets/dolly-slice/dolly_151_alpaca.jsonl";
}

// Every training pair of `rows` as (context tokens, target) -> count, where the context is
// what attention may see: the tokens of the same segment up to and including t. Also checks
// the row layout: equal field lengths, contiguous segments, positions restarting at 0.
using PairCounts = std::map<std::pair<std::vector<int32_t>, int32_t>, int>;

inline PairCounts training_pairs(const std::vector<train::Sequence>& rows, int64_t T) {
    PairCounts pairs;
    for (const auto& row : rows) {
        EXPECT_EQ(row.input.size(), static_cast<size_t>(T));
        EXPECT_EQ(row.targets.size(), static_cast<size_t>(T));
        EXPECT_EQ(row.segment_ids.size(), static_cast<size_t>(T));
        EXPECT_EQ(row.positions.size(), static_cast<size_t>(T));
        std::vector<int32_t> context;
        for (size_t t = 0; t < row.input.size(); ++t) {
            const bool new_segment = t == 0 || row.segment_ids[t] != row.segment_ids[t - 1];
            if (new_segment) {
                EXPECT_EQ(row.segment_ids[t], t == 0 ? 0 : row.segment_ids[t - 1] + 1)
                    << "segments must be contiguous and numbered in order";
                context.clear();
            }
            EXPECT_EQ(row.positions[t], static_cast<int32_t>(context.size()))
                << "position must count from the segment start";
            context.push_back(row.input[t]);
            if (row.targets[t] != train::kIgnoreIndex) {
                ++pairs[{context, row.targets[t]}];
            }
        }
    }
    return pairs;
}

// The token sequence of every segment of `rows` but the padding one (a last segment made of
// pad_id only; examples start with BOS, so none of them looks like that).
inline std::vector<std::vector<int32_t>> row_segments(const std::vector<train::Sequence>& rows,
                                                      int32_t pad_id) {
    std::vector<std::vector<int32_t>> out;
    for (const auto& row : rows) {
        std::vector<std::vector<int32_t>> segs;
        for (size_t t = 0; t < row.input.size(); ++t) {
            if (t == 0 || row.segment_ids[t] != row.segment_ids[t - 1]) {
                segs.emplace_back();
            }
            segs.back().push_back(row.input[t]);
        }
        const auto& last = segs.back();
        if (std::all_of(last.begin(), last.end(), [&](int32_t id) { return id == pad_id; })) {
            segs.pop_back();
        }
        out.insert(out.end(), segs.begin(), segs.end());
    }
    return out;
}

}  // namespace qforge::test
