// What is here: G-Eval: the probability-weighted score, score-digit parsing, the steps cache,
// and the local judge on the shipped stories260K model (real logits).
#include <cmath>
#include <filesystem>
#include <gtest/gtest.h>

#include "evaluation/judge/geval.h"
#include "evaluation/judge/local_judge.h"
#include "evaluation/stories_fixture.h"
#include "kernels/common.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

TEST(Geval, ScoreIsTheProbabilityWeightedMeanOverDigits) {
    // p(1)=0.1, p(3)=0.2 (as "3" and " 3"), p(5)=0.3, plus a non-digit with 0.4.
    const std::vector<TokenLogprob> top = {{"5", std::log(0.3)},
                                           {"the", std::log(0.4)},
                                           {"3", std::log(0.15)},
                                           {" 3", std::log(0.05)},
                                           {"1", std::log(0.1)}};
    const double want = (1 * 0.1 + 3 * 0.2 + 5 * 0.3) / 0.6;
    EXPECT_NEAR(geval_score_from_logprobs(top), want, 1e-12);
    EXPECT_TRUE(std::isnan(geval_score_from_logprobs({{"the", -0.1}, {"6", -1.0}})));
    EXPECT_TRUE(std::isnan(geval_score_from_logprobs({})));
}

TEST(Geval, ScoreDigits) {
    EXPECT_EQ(geval_score_digit("4"), 4);
    EXPECT_EQ(geval_score_digit(" 2"), 2);
    EXPECT_EQ(geval_score_digit("\xE2\x96\x81"
                                "5"),
              5);  // sentencepiece "▁5"
    EXPECT_EQ(geval_score_digit("5\n"), 5);
    EXPECT_EQ(geval_score_digit("0"), 0);
    EXPECT_EQ(geval_score_digit("6"), 0);
    EXPECT_EQ(geval_score_digit("12"), 0);
    EXPECT_EQ(geval_score_digit(""), 0);
    EXPECT_EQ(geval_score_digit("a"), 0);
}

TEST(Geval, BuiltinCriteriaAndPrompts) {
    for (const char* name : {"coherence", "consistency", "fluency", "relevance"}) {
        const GevalCriterion c = geval_builtin_criterion(name);
        EXPECT_EQ(c.name, name);
        EXPECT_FALSE(c.description.empty());
        const std::string form = geval_form_prompt(c, "1. Read.", "What is 2+2?", "Four.");
        EXPECT_NE(form.find("What is 2+2?"), std::string::npos);
        EXPECT_NE(form.find("1. Read."), std::string::npos);
        EXPECT_EQ(form.substr(form.size() - 7), " (1-5):");
    }
    try {
        geval_builtin_criterion("helpfulness");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("coherence, consistency, fluency or relevance"),
                  std::string::npos);
    }
}

class CountingJudge final : public Judge {
public:
    explicit CountingJudge(Judge& inner) : inner_(inner) {}

    std::string id() const override { return inner_.id(); }

    std::string complete(const std::string& p, int64_t n) override {
        completions++;
        return inner_.complete(p, n);
    }

    std::vector<TokenLogprob> next_token_logprobs(const std::string& p, int k) override {
        return inner_.next_token_logprobs(p, k);
    }

    int completions = 0;

private:
    Judge& inner_;
};

using Stories = test::StoriesModel;

TEST(GevalLocalJudge, StepsAreGeneratedOnceAndCached) {
    Stories s;
    LocalJudge local(s.model, s.tok, "stories260K");
    CountingJudge judge(local);
    test::TempDir cache;
    const GevalCriterion c = geval_builtin_criterion("fluency");
    const std::string first = geval_steps(judge, c, cache.path(), 24);
    EXPECT_EQ(judge.completions, 1);
    EXPECT_EQ(first.rfind("1.", 0), 0u);
    EXPECT_GT(first.size(), 2u);
    const std::string again = geval_steps(judge, c, cache.path(), 24);
    EXPECT_EQ(judge.completions, 1) << "the second call must read the cache";
    EXPECT_EQ(again, first);
    // Another criterion is another cache entry.
    geval_steps(judge, geval_builtin_criterion("coherence"), cache.path(), 24);
    EXPECT_EQ(judge.completions, 2);
}

TEST(GevalLocalJudge, ScoresFromRealLogitsIncludingEmptyAndLongAnswers) {
    Stories s;
    LocalJudge judge(s.model, s.tok, "stories260K");
    const auto top = judge.next_token_logprobs("Once upon a time, there was a", 5);
    ASSERT_GE(top.size(), 5u);
    double mass = 0.0;
    for (std::size_t i = 0; i < top.size(); i++) {
        EXPECT_LE(top[i].logprob, 0.0);
        mass += std::exp(top[i].logprob);
        if (i > 0 && i < 5) {
            EXPECT_LE(top[i].logprob, top[i - 1].logprob);
        }
    }
    EXPECT_LE(mass, 1.0 + 1e-9);
    const std::string long_answer(20000, 'x');  // longer than the 512-token context
    const GevalResult r =
        geval_score(judge, geval_builtin_criterion("fluency"), "1. Read the answer.",
                    {"Tell a story.", "Tell a story.", "Tell a story."},
                    {"Lily went to the park.", "", long_answer}, 20);
    ASSERT_EQ(r.per_example.size(), 3u);
    EXPECT_EQ(r.n_scored, 3u) << "stories260K has digit tokens, so every form gets a score";
    for (double v : r.per_example) {
        EXPECT_GE(v, 1.0);
        EXPECT_LE(v, 5.0);
    }
}

}  // namespace
}  // namespace qforge::eval
