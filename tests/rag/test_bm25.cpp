// What is here: BM25 scores checked against a tiny corpus computed by hand, and the fusion
// functions on small rankings.
#include <cmath>
#include <gtest/gtest.h>
#include <map>

#include "kernels/common.h"
#include "rag/bm25.h"
#include "rag/bm25_index.h"
#include "rag/fusion.h"
#include "rag/index_builder.h"
#include "support/test_support.h"

namespace qforge::rag {
namespace {

// Three one-chunk documents, no stop words, word counting:
//   d0 "apple banana apple"   (3 terms)
//   d1 "banana cherry"        (2 terms)
//   d2 "cherry cherry cherry date" (4 terms)
// N = 3, avgdl = 9 / 3 = 3.
Bm25Index build_tiny(const std::filesystem::path& dir) {
    IndexParams params;
    params.stop_words = false;
    IndexBuilder builder(params);
    const std::vector<std::string> texts = {"apple banana apple", "banana cherry",
                                            "cherry cherry cherry date"};
    for (std::size_t i = 0; i < texts.size(); ++i) {
        Document doc{"d" + std::to_string(i), "", texts[i], "mem"};
        builder.add_document(doc, {{0, texts[i].size()}});
    }
    builder.write(dir);
    return Bm25Index::load(dir);
}

// Hand formula, written out again independently of rag/bm25.cpp.
double hand_score(double df, double tf, double dl) {
    const double n = 3, avgdl = 3, k1 = 1.2, b = 0.75;
    const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
}

TEST(Bm25, IdfAndTermScoreMatchTheFormula) {
    // df=1 of 3: ln(1 + 2.5/1.5) = ln(2.6667) = 0.980829
    EXPECT_NEAR(bm25_idf(3, 1), 0.9808292530117262, 1e-12);
    // tf=2, dl=3, avgdl=3: 0.980829 * 2 * 2.2 / (2 + 1.2) = 1.348640
    EXPECT_NEAR(bm25_term_score(bm25_idf(3, 1), 2, 3, 3.0, {}), 1.3486402228911235, 1e-12);
    // b = 0 ignores length; k1 = 0 makes tf irrelevant.
    EXPECT_DOUBLE_EQ(bm25_term_score(1.0, 3, 100, 3.0, {1.2, 0.0}), 3 * 2.2 / (3 + 1.2));
    EXPECT_DOUBLE_EQ(bm25_term_score(0.7, 5, 9, 3.0, {0.0, 0.75}), 0.7);
}

TEST(Bm25, TinyCorpusScoresByHand) {
    test::TempDir tmp;
    const Bm25Index index = build_tiny(tmp.path() / "idx");
    ASSERT_EQ(index.num_chunks(), 3u);
    EXPECT_DOUBLE_EQ(index.avg_chunk_terms(), 3.0);

    // "cherry": d2 (tf 3, dl 4) above d1 (tf 1, dl 2); d0 has no cherry.
    auto hits = index.search("Cherry!", 10);
    ASSERT_EQ(hits.size(), 2u);
    EXPECT_EQ(hits[0].chunk, 2u);
    EXPECT_NEAR(hits[0].score, hand_score(2, 3, 4), 1e-12);
    EXPECT_EQ(hits[1].chunk, 1u);
    EXPECT_NEAR(hits[1].score, hand_score(2, 1, 2), 1e-12);

    // "apple banana": d0 = apple(tf2) + banana(tf1); d1 = banana(tf1, dl2).
    hits = index.search("apple banana", 10);
    ASSERT_EQ(hits.size(), 2u);
    EXPECT_EQ(hits[0].chunk, 0u);
    EXPECT_NEAR(hits[0].score, hand_score(1, 2, 3) + hand_score(2, 1, 3), 1e-12);
    EXPECT_NEAR(hits[1].score, hand_score(2, 1, 2), 1e-12);

    // A repeated query term counts twice; an unknown term adds nothing; k cuts the list.
    hits = index.search("date date zebra", 1);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_NEAR(hits[0].score, 2 * hand_score(1, 1, 4), 1e-12);
    EXPECT_TRUE(index.search("zebra", 5).empty());

    // Explicit parameters override the manifest's.
    hits = index.search("cherry", 1, {1.2, 0.0});
    EXPECT_NEAR(hits[0].score, bm25_idf(3, 2) * 3 * 2.2 / (3 + 1.2), 1e-12);
}

TEST(Fusion, ReciprocalRankFusionByHand) {
    const std::vector<std::vector<ScoredChunk>> lists = {{{7, 9.0}, {3, 5.0}, {1, 0.1}},
                                                         {{3, 0.9}, {8, 0.8}}};
    const auto fused = reciprocal_rank_fusion(lists, 60.0);
    ASSERT_EQ(fused.size(), 4u);
    EXPECT_EQ(fused[0].chunk, 3u);  // 1/62 + 1/61
    EXPECT_NEAR(fused[0].score, 1.0 / 62 + 1.0 / 61, 1e-15);
    EXPECT_EQ(fused[1].chunk, 7u);  // 1/61
    EXPECT_NEAR(fused[1].score, 1.0 / 61, 1e-15);
    EXPECT_EQ(fused[2].chunk, 8u);
    EXPECT_EQ(fused[3].chunk, 1u);
    EXPECT_NEAR(fused[3].score, 1.0 / 63, 1e-15);
    // Equal fused scores keep chunk-id order; top_k cuts.
    const auto tie = reciprocal_rank_fusion({{{5, 1}}, {{2, 1}}}, 60.0, 1);
    ASSERT_EQ(tie.size(), 1u);
    EXPECT_EQ(tie[0].chunk, 2u);
}

TEST(Fusion, WeightedScoreFusionNormalisesEachList) {
    const auto r = test::random_floats(4, 1.0f, 10.0f);
    const std::vector<std::vector<ScoredChunk>> lists = {
        {{0, 10.0 + r[0]}, {1, 5.0 + r[1]}, {2, 0.0 + r[2] / 100}},  // BM25-like scale
        {{2, 0.9}, {0, 0.5}, {3, 0.1}}};                             // cosine-like scale
    const auto fused = weighted_score_fusion(lists, {0.3, 0.7});
    auto norm = [](double x, double lo, double hi) {
        return (x - lo) / (hi - lo);
    };
    std::map<std::uint32_t, double> expect;
    const double lo0 = lists[0][2].score, hi0 = lists[0][0].score;
    for (const auto& s : lists[0]) {
        expect[s.chunk] += 0.3 * norm(s.score, lo0, hi0);
    }
    for (const auto& s : lists[1]) {
        expect[s.chunk] += 0.7 * norm(s.score, 0.1, 0.9);
    }
    ASSERT_EQ(fused.size(), expect.size());
    for (std::size_t i = 0; i < fused.size(); ++i) {
        EXPECT_NEAR(fused[i].score, expect[fused[i].chunk], 1e-12) << "chunk " << fused[i].chunk;
        if (i > 0) {
            EXPECT_GE(fused[i - 1].score, fused[i].score);
        }
    }
    EXPECT_EQ(fused[0].chunk, 2u);  // 0.3 * 0 + 0.7 * 1 = 0.7 beats chunk 0's 0.3 + 0.35
    // A list of equal scores normalises to 1; bad weights are errors.
    const auto flat = weighted_score_fusion({{{4, 2.0}, {6, 2.0}}}, {1.0});
    EXPECT_DOUBLE_EQ(flat[0].score, 1.0);
    EXPECT_THROW(weighted_score_fusion(lists, {1.0}), Error);
    EXPECT_THROW(weighted_score_fusion(lists, {0.0, 0.0}), Error);
    EXPECT_THROW(weighted_score_fusion(lists, {-1.0, 2.0}), Error);
}

}  // namespace
}  // namespace qforge::rag
