// What is here: chrF and chrF++ on hand-worked cases (derivations in the comments), the
// whitespace and smoothing options, multi-reference selection, errors, and random-corpus
// properties (the sacrebleu golden test covers real text).
#include <algorithm>
#include <gtest/gtest.h>
#include <random>

#include "evaluation/metrics/chrf.h"
#include "kernels/common.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

TEST(Chrf, HandComputedCharacterScore) {
    // orders 1..3 present: P = R = (2/3 + 1/2 + 0) / 3 = 7/18, so F2 = 7/18
    const ChrfScore s = chrf_sentence("abc", {"abd"});
    EXPECT_NEAR(s.score, 100.0 * 7 / 18, 1e-12);
    EXPECT_EQ(s.name, "chrF2");
    EXPECT_EQ(s.stats.size(), 18u);
    EXPECT_EQ(s.stats[0], 3);  // hypothesis unigrams
    EXPECT_EQ(s.stats[2], 2);  // matched unigrams
    EXPECT_EQ(s.n_scored, 1u);
}

TEST(Chrf, HandComputedChrfPlusPlus) {
    // words "a b." -> a, b, "." ; chars "ab." vs "ab"
    // P per order (char1, char2, word1, word2) = 2/3, 1/2, 2/3, 1/2; every R = 1
    // avg P = 7/12, F2 = 5 * 7/12 / (4 * 7/12 + 1) = 35/40
    const ChrfScore s = chrf_sentence("a b.", {"a b"}, chrf_plus_plus_options());
    EXPECT_NEAR(s.score, 87.5, 1e-12);
    EXPECT_EQ(s.name, "chrF2++");
    EXPECT_NE(s.signature.find("|nc:6|nw:2|"), std::string::npos);
}

TEST(Chrf, WhitespaceIsIgnoredUnlessAsked) {
    EXPECT_NEAR(chrf_sentence("a b c", {"abc"}).score, 100.0, 1e-12);
    EXPECT_NEAR(chrf_sentence("a\u00a0b\u3000c", {"abc"}).score, 100.0, 1e-12);
    EXPECT_LT(chrf_sentence("a b c", {"abc"}, {.whitespace = true}).score, 50.0);
}

TEST(Chrf, EpsilonSmoothingAveragesEveryOrder) {
    // orders 1, 2 give F = 1; orders 3..6 have no n-grams and contribute eps each
    const double eps = 1e-16;
    EXPECT_NEAR(chrf_sentence("ab", {"ab"}, {.eps_smoothing = true}).score, 100 * (2 + 4 * eps) / 6,
                1e-12);
    EXPECT_NEAR(chrf_sentence("ab", {"ab"}).score, 100.0, 1e-12);
}

TEST(Chrf, EmptyStrings) {
    EXPECT_EQ(chrf_sentence("", {"abc"}).score, 0.0);
    EXPECT_EQ(chrf_sentence("abc", {""}).score, 0.0);
    EXPECT_EQ(chrf_sentence("", {""}).score, 0.0);
    EXPECT_EQ(chrf_sentence(" \t ", {"\n"}, chrf_plus_plus_options()).score, 0.0);
}

TEST(Chrf, UnicodeIsCountedPerCodePoint) {
    // "ü" is one character: "über" and "uber" share b, e, r, "be", "er", "ber" only
    const ChrfScore s = chrf_sentence(
        "\xc3\xbc"
        "ber",
        {"uber"});
    EXPECT_EQ(s.stats[0], 4);  // 4 unigrams, not 5 bytes
    EXPECT_EQ(s.stats[2], 3);
}

TEST(Chrf, MultipleReferencesKeepTheBestOneFirstOnTies) {
    std::mt19937_64 rng(test::test_seed());
    const char* words[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"};
    std::uniform_int_distribution<std::size_t> pick(0, 5);
    for (int trial = 0; trial < 20; ++trial) {
        std::string h, r1, r2;
        for (int k = 0; k < 6; ++k) {
            h += std::string(words[pick(rng)]) + " ";
            r1 += std::string(words[pick(rng)]) + " ";
            r2 += std::string(words[pick(rng)]) + " ";
        }
        const ChrfOptions pp = chrf_plus_plus_options();
        const double s1 = chrf_sentence(h, {r1}, pp).score;
        const double s2 = chrf_sentence(h, {r2}, pp).score;
        const ChrfScore both = chrf_sentence(h, {r1, r2}, pp);
        EXPECT_EQ(both.score, std::max(s1, s2));
        EXPECT_EQ(both.stats, chrf_sentence(h, {s2 > s1 ? r2 : r1}, pp).stats);
        EXPECT_EQ(both.signature.substr(0, 8), "nrefs:2|");
    }
}

TEST(Chrf, CorpusSumsSegmentStatistics) {
    std::mt19937_64 rng(test::test_seed());
    std::uniform_int_distribution<int> ch('a', 'h');
    std::uniform_int_distribution<int> len(0, 30);
    std::vector<std::string> hyps;
    std::vector<std::vector<std::string>> refs;
    std::vector<std::int64_t> sum(24, 0);
    for (int i = 0; i < 50; ++i) {
        std::string h, r;
        for (int n = len(rng); n > 0; --n) {
            h += static_cast<char>(ch(rng));
            h += n % 4 == 0 ? " " : "";
        }
        for (int n = len(rng); n > 0; --n) {
            r += static_cast<char>(ch(rng));
            r += n % 5 == 0 ? " " : "";
        }
        hyps.push_back(h);
        refs.push_back({r});
        const auto s = chrf_sentence(h, {r}, chrf_plus_plus_options());
        for (std::size_t k = 0; k < sum.size(); ++k) {
            sum[k] += s.stats[k];
        }
    }
    const ChrfScore c = chrf_corpus(hyps, refs, chrf_plus_plus_options());
    EXPECT_EQ(c.stats, sum);
    EXPECT_EQ(c.n_scored, 50u);
    EXPECT_GT(c.score, 0.0);
    EXPECT_LT(c.score, 100.0);
}

TEST(Chrf, BadInputNamesTheSegment) {
    auto message = [](auto&& fn) {
        try {
            fn();
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message([] { chrf_corpus({"a"}, {}); }).find("1 hypotheses but 0 reference lists"),
              std::string::npos);
    EXPECT_NE(message([] { chrf_corpus({}, {}); }).find("no hypotheses"), std::string::npos);
    EXPECT_NE(message([] { chrf_sentence("a", {}); }).find("segment 0 has no reference"),
              std::string::npos);
    EXPECT_NE(message([] {
                  chrf_corpus({"ok", "\xe2\x82"}, {{"a"}, {"b"}});
              }).find("chrF: hypothesis 1: invalid UTF-8"),
              std::string::npos);
    EXPECT_NE(message([] { chrf_sentence("a", {"a"}, {.char_order = 0}); }).find("char_order 0"),
              std::string::npos);
}

}  // namespace
}  // namespace qforge::eval
