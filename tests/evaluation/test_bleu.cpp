// What is here: BLEU on hand-worked cases (every number derived in the comments), edge cases
// (empty strings, ties between references), error messages, and properties on random corpora
// (the sacrebleu golden test covers real text).
#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <random>

#include "evaluation/metrics/bleu.h"
#include "kernels/common.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

TEST(Bleu, HandComputedCorpusScore) {
    // 1..4-gram matches 5/6, 3/5, 2/4, 1/3; equal lengths so BP = 1.
    const BleuScore s = bleu_corpus({"the cat sat on the mat"}, {{"the cat sat on a mat"}});
    EXPECT_EQ(s.counts, (std::vector<std::int64_t>{5, 3, 2, 1}));
    EXPECT_EQ(s.totals, (std::vector<std::int64_t>{6, 5, 4, 3}));
    EXPECT_DOUBLE_EQ(s.bp, 1.0);
    EXPECT_NEAR(s.score, 100.0 * std::pow(5.0 / 6 * 3.0 / 5 * 2.0 / 4 * 1.0 / 3, 0.25), 1e-12);
    EXPECT_EQ(s.sys_len, 6);
    EXPECT_EQ(s.ref_len, 6);
    EXPECT_EQ(s.n_scored, 1u);
    EXPECT_EQ(s.signature.substr(0, 47), "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|ve");
}

TEST(Bleu, BrevityPenaltyAndEffectiveOrder) {
    // 2 of 6 reference tokens; effective order stops at 2 (no 3-grams in the hypothesis).
    const BleuScore s = bleu_sentence("the cat", {"the cat sat on the mat"});
    EXPECT_NEAR(s.bp, std::exp(1.0 - 6.0 / 2.0), 1e-15);
    EXPECT_NEAR(s.score, 100.0 * std::exp(-2.0), 1e-12);
    EXPECT_NE(s.signature.find("eff:yes"), std::string::npos);
}

TEST(Bleu, ExponentialSmoothingHalvesEachZeroOrder) {
    // precisions 3/4, 1/3, then 0/2 -> 100/(2*2), 0/1 -> 100/(4*1)
    const BleuScore s = bleu_sentence("a b c d", {"a b x d"});
    EXPECT_NEAR(s.precisions[2], 25.0, 1e-12);
    EXPECT_NEAR(s.precisions[3], 25.0, 1e-12);
    const double want =
        std::exp((std::log(75.0) + std::log(100.0 / 3) + std::log(25.0) + std::log(25.0)) / 4);
    EXPECT_NEAR(s.score, want, 1e-12);
}

TEST(Bleu, MultipleReferencesClipToTheMaxCountAndTheClosestLength) {
    // "the" may match twice (second reference), "the the" once; lengths 2 and 3 -> 3.
    const BleuScore s = bleu_sentence("the the the", {"the cat", "the the dog"});
    EXPECT_EQ(s.counts, (std::vector<std::int64_t>{2, 1, 0, 0}));
    EXPECT_EQ(s.totals, (std::vector<std::int64_t>{3, 2, 1, 0}));
    EXPECT_EQ(s.ref_len, 3);
    // precisions (percent) 200/3, 50 and, exp-smoothed, 100 / (2 * 1)
    const double want = std::exp((std::log(200.0 / 3) + std::log(50.0) + std::log(50.0)) / 3);
    EXPECT_NEAR(s.score, want, 1e-12);
    // equally close references (2 and 4 tokens for 3): the shorter one counts
    EXPECT_EQ(bleu_sentence("a b c", {"a b c d", "a b"}).ref_len, 2);
    EXPECT_EQ(bleu_sentence("a b c", {"a b c d", "a b"}).signature.substr(0, 8), "nrefs:2|");
}

TEST(Bleu, EmptyStrings) {
    const BleuScore empty_hyp = bleu_corpus({""}, {{"abc"}});
    EXPECT_EQ(empty_hyp.score, 0.0);
    EXPECT_EQ(empty_hyp.bp, 0.0);
    EXPECT_EQ(empty_hyp.sys_len, 0);
    EXPECT_EQ(empty_hyp.ref_len, 1);
    const BleuScore both = bleu_corpus({""}, {{""}});
    EXPECT_EQ(both.score, 0.0);
    EXPECT_EQ(both.bp, 1.0);
    const BleuScore empty_ref = bleu_sentence("some words here", {"  \t"});
    EXPECT_EQ(empty_ref.score, 0.0);
    EXPECT_EQ(empty_ref.ref_len, 0);
}

TEST(Bleu, VariableReferenceCountsGiveNrefsVar) {
    const BleuScore s = bleu_corpus({"a b", "c d"}, {{"a b"}, {"c d", "c e"}});
    EXPECT_EQ(s.signature.substr(0, 10), "nrefs:var|");
    EXPECT_EQ(s.n_scored, 2u);
}

TEST(Bleu, SignatureFormatsSmoothingValues) {
    EXPECT_NE(bleu_signature({.smooth_method = BleuSmooth::kFloor}, "1").find("smooth:floor[0.10]"),
              std::string::npos);
    EXPECT_NE(bleu_signature({.smooth_method = BleuSmooth::kAddK, .smooth_value = 0.5}, "1")
                  .find("smooth:add-k[0.50]"),
              std::string::npos);
    EXPECT_NE(bleu_signature({.lowercase = true}, "2").find("nrefs:2|case:lc|"), std::string::npos);
}

TEST(Bleu, BadInputNamesTheSegment) {
    auto message = [](auto&& fn) {
        try {
            fn();
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message([] {
                  bleu_corpus({"a", "b"}, {{"a"}});
              }).find("2 hypotheses but 1 reference lists"),
              std::string::npos);
    EXPECT_NE(message([] { bleu_corpus({}, {}); }).find("no hypotheses"), std::string::npos);
    EXPECT_NE(message([] {
                  bleu_corpus({"a", "b"}, {{"a"}, {}});
              }).find("segment 1 has no reference"),
              std::string::npos);
    EXPECT_NE(message([] {
                  bleu_corpus({"a", "b\xff"}, {{"a"}, {"b"}});
              }).find("BLEU: hypothesis 1: invalid UTF-8 at byte 1"),
              std::string::npos);
    EXPECT_NE(message([] {
                  bleu_corpus({"a"}, {{"ok", "\xc3"}});
              }).find("reference 1 of segment 0: invalid UTF-8"),
              std::string::npos);
    EXPECT_NE(message([] {
                  bleu_sentence("a", {"a"}, {.max_ngram_order = 0});
              }).find("max_ngram_order is 0"),
              std::string::npos);
}

// Random sentences over a small vocabulary, so that n-grams repeat and partly match.
std::vector<std::string> random_sentences(std::mt19937_64& rng, std::size_t count) {
    static const char* vocab[] = {"the", "a",    "cat",   "dog", "sat", "on",    "mat",   ".",
                                  ",",   "über", "naïve", "42",  "3.5", "x-ray", "(note)"};
    std::uniform_int_distribution<std::size_t> len(1, 25);
    std::uniform_int_distribution<std::size_t> word(0, std::size(vocab) - 1);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) {
        std::string s;
        for (std::size_t n = len(rng); n > 0; --n) {
            s += vocab[word(rng)];
            s += ' ';
        }
        out.push_back(s);
    }
    return out;
}

TEST(Bleu, CorpusStatisticsAreTheSumOfSentenceStatistics) {
    std::mt19937_64 rng(test::test_seed());
    const auto hyps = random_sentences(rng, 60);
    const auto refs_flat = random_sentences(rng, 60);
    std::vector<std::vector<std::string>> refs;
    for (const auto& r : refs_flat) {
        refs.push_back({r});
    }
    const BleuScore corpus = bleu_corpus(hyps, refs);
    BleuScore sum;
    sum.counts.assign(4, 0);
    sum.totals.assign(4, 0);
    for (std::size_t i = 0; i < hyps.size(); ++i) {
        const BleuScore s = bleu_sentence(hyps[i], refs[i]);
        sum.sys_len += s.sys_len;
        sum.ref_len += s.ref_len;
        for (std::size_t n = 0; n < 4; ++n) {
            sum.counts[n] += s.counts[n];
            sum.totals[n] += s.totals[n];
        }
    }
    EXPECT_EQ(corpus.counts, sum.counts);
    EXPECT_EQ(corpus.totals, sum.totals);
    EXPECT_EQ(corpus.sys_len, sum.sys_len);
    EXPECT_EQ(corpus.ref_len, sum.ref_len);
    EXPECT_GT(corpus.score, 0.0);
    EXPECT_LT(corpus.score, 100.0);
    EXPECT_EQ(corpus.n_scored, 60u);

    // order of segments does not matter
    std::vector<std::size_t> perm(hyps.size());
    for (std::size_t i = 0; i < perm.size(); ++i) {
        perm[i] = i;
    }
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<std::string> h2;
    std::vector<std::vector<std::string>> r2;
    for (std::size_t i : perm) {
        h2.push_back(hyps[i]);
        r2.push_back(refs[i]);
    }
    EXPECT_EQ(bleu_corpus(h2, r2).score, corpus.score);
}

TEST(Bleu, IdenticalSentencesScoreHundred) {
    std::mt19937_64 rng(test::test_seed());
    for (const auto& s : random_sentences(rng, 30)) {
        EXPECT_NEAR(bleu_sentence(s, {s}).score, 100.0, 1e-9) << s;
        // an extra, unrelated reference never lowers a perfect match
        EXPECT_NEAR(bleu_sentence(s, {"zzz", s}).score, 100.0, 1e-9) << s;
    }
}

}  // namespace
}  // namespace qforge::eval
