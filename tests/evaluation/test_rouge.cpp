// What is here: ROUGE-1/2/L on hand-worked cases, rouge_score's tokenizer, the linear-memory
// LCS against a full-table LCS on random sequences, a >100k-character pair, and errors.
#include <algorithm>
#include <chrono>
#include <gtest/gtest.h>
#include <random>

#include "evaluation/metrics/rouge.h"
#include "kernels/common.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

TEST(Rouge, TokenizerLowercasesAndKeepsOnlyAsciiAlphanumerics) {
    using V = std::vector<std::string>;
    EXPECT_EQ(rouge_tokenize("The Quick-brown fox's caf\xc3\xa9, 2nd!"),
              (V{"the", "quick", "brown", "fox", "s", "caf", "2nd"}));
    // Python's lower(): U+0130 -> "i" + U+0307, KELVIN SIGN U+212A -> "k"
    EXPECT_EQ(rouge_tokenize("\xc4\xb0stanbul \xe2\x84\xaa"
                             "elvin"),
              (V{"i", "stanbul", "kelvin"}));
    EXPECT_TRUE(rouge_tokenize("").empty());
    EXPECT_TRUE(rouge_tokenize("!!! \xe6\x9d\xb1\xe4\xba\xac ...").empty());
}

TEST(Rouge, HandComputedScores) {
    // target the(2) cat sat on mat; prediction the(2) cat on mat
    // R1: overlap 5, P = 5/5, R = 5/6, F = 10/11
    // R2: target bigrams the-cat cat-sat sat-on on-the the-mat, prediction the-cat cat-on
    //     on-the the-mat: overlap 3, P = 3/4, R = 3/5, F = 2/3
    // RL: LCS "the cat on the mat" = 5: P = 1, R = 5/6
    const RougeScores s = rouge_score("The cat sat on the mat.", "the cat on the mat");
    EXPECT_NEAR(s.rouge1.precision, 1.0, 1e-15);
    EXPECT_NEAR(s.rouge1.recall, 5.0 / 6, 1e-15);
    EXPECT_NEAR(s.rouge1.fmeasure, 10.0 / 11, 1e-15);
    EXPECT_NEAR(s.rouge2.precision, 0.75, 1e-15);
    EXPECT_NEAR(s.rouge2.recall, 0.6, 1e-15);
    EXPECT_NEAR(s.rouge2.fmeasure, 2.0 / 3, 1e-15);
    EXPECT_NEAR(s.rouge_l.precision, 1.0, 1e-15);
    EXPECT_NEAR(s.rouge_l.recall, 5.0 / 6, 1e-15);
    EXPECT_NEAR(s.rouge_l.fmeasure, 10.0 / 11, 1e-15);
    EXPECT_EQ(s.n_scored, 1u);
}

TEST(Rouge, LcsDiffersFromUnigramOverlapWhenOrderChanges) {
    // same bag of words, reversed: R1 = 1, LCS = 1 of 4
    const RougeScores s = rouge_score("w x y z", "z y x w");
    EXPECT_NEAR(s.rouge1.fmeasure, 1.0, 1e-15);
    EXPECT_NEAR(s.rouge2.fmeasure, 0.0, 1e-15);
    EXPECT_NEAR(s.rouge_l.fmeasure, 0.25, 1e-15);
}

TEST(Rouge, EmptyInputsScoreZero) {
    for (const auto& [t, p] : std::vector<std::pair<std::string, std::string>>{
             {"", ""}, {"", "a b"}, {"a b", ""}, {"...", "a"}, {"a", "\xe6\x9d\xb1"}}) {
        const RougeScores s = rouge_score(t, p);
        EXPECT_EQ(s.rouge1.fmeasure, 0.0) << t << " | " << p;
        EXPECT_EQ(s.rouge2.fmeasure, 0.0);
        EXPECT_EQ(s.rouge_l.fmeasure, 0.0);
        EXPECT_EQ(s.rouge_l.precision, 0.0);
    }
}

// The textbook (n+1)x(m+1) table.
std::size_t lcs_full_table(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::vector<std::vector<std::size_t>> t(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            t[i][j] =
                a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
        }
    }
    return t[a.size()][b.size()];
}

TEST(Rouge, LinearSpaceLcsMatchesFullTable) {
    std::mt19937_64 rng(test::test_seed());
    std::uniform_int_distribution<int> vocab(0, 6);
    std::uniform_int_distribution<int> len(0, 80);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<std::string> a(static_cast<std::size_t>(len(rng)));
        std::vector<std::string> b(static_cast<std::size_t>(len(rng)));
        for (auto& t : a) {
            t = fmt::format("w{}", vocab(rng));
        }
        for (auto& t : b) {
            t = fmt::format("w{}", vocab(rng));
        }
        ASSERT_EQ(lcs_length(a, b), lcs_full_table(a, b)) << "trial " << trial;
        ASSERT_EQ(lcs_length(b, a), lcs_full_table(a, b)) << "trial " << trial;
    }
}

TEST(Rouge, HundredThousandCharacterPair) {
    // prediction = target with every 7th word dropped, so the LCS is the whole prediction
    std::mt19937_64 rng(test::test_seed());
    std::uniform_int_distribution<int> vocab(0, 499);
    std::string target;
    std::string prediction;
    std::size_t words = 0;
    for (std::size_t i = 0; target.size() < 100000; ++i) {
        const std::string w = fmt::format("tok{}", vocab(rng));
        target += w + " ";
        if (i % 7 != 3) {
            prediction += w + " ";
            ++words;
        }
    }
    const auto start = std::chrono::steady_clock::now();
    const RougeScores s = rouge_score(target, prediction);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto target_words = static_cast<double>(rouge_tokenize(target).size());
    EXPECT_NEAR(s.rouge_l.precision, 1.0, 1e-15);
    EXPECT_NEAR(s.rouge_l.recall, static_cast<double>(words) / target_words, 1e-15);
    EXPECT_NEAR(s.rouge1.precision, 1.0, 1e-15);
    EXPECT_LT(secs, 10.0);
    RecordProperty("rouge_100k_seconds", std::to_string(secs));
}

TEST(Rouge, MultiTargetKeepsTheBestPerMeasure) {
    // target 1 wins ROUGE-1 (all words), target 2 wins ROUGE-L (order kept)
    const RougeScores s = rouge_score_multi({"d c b a", "a b c x y z"}, "a b c d");
    EXPECT_NEAR(s.rouge1.fmeasure, 1.0, 1e-15);
    EXPECT_NEAR(s.rouge_l.fmeasure, rouge_score("a b c x y z", "a b c d").rouge_l.fmeasure, 1e-15);
    EXPECT_GT(s.rouge_l.fmeasure, rouge_score("d c b a", "a b c d").rouge_l.fmeasure);
}

TEST(Rouge, CorpusIsTheMeanOfPairs) {
    const std::vector<std::string> preds = {"the cat on the mat", "w x y z", ""};
    const std::vector<std::string> targets = {"The cat sat on the mat.", "z y x w", "a"};
    const RougeScores c = rouge_corpus(preds, targets);
    EXPECT_EQ(c.n_scored, 3u);
    EXPECT_NEAR(c.rouge1.fmeasure, (10.0 / 11 + 1.0 + 0.0) / 3, 1e-15);
    EXPECT_NEAR(c.rouge_l.fmeasure, (10.0 / 11 + 0.25 + 0.0) / 3, 1e-15);
    EXPECT_THROW(rouge_corpus({"a"}, {"a", "b"}), Error);
    EXPECT_THROW(rouge_corpus({}, {}), Error);
    EXPECT_THROW(rouge_score_multi({}, "a"), Error);
    EXPECT_THROW(rouge_score("a", "\xff"), Error);
}

}  // namespace
}  // namespace qforge::eval
