// What is here: SQuAD v1.1 normalize_answer, exact match and F1 on hand-worked cases, the
// v1.1 empty-answer behaviour, max over gold answers, and the shipped dev-mini set.
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evaluation/metrics/squad.h"
#include "kernels/common.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

TEST(Squad, NormalizeAnswer) {
    const std::pair<const char*, const char*> cases[] = {
        {"The Denver Broncos!", "denver broncos"},
        {"  An  apple a day, keeps the doctor away. ", "apple day keeps doctor away"},
        {"Theory of the Leisure Class", "theory of leisure class"},  // "the" only as a word
        {"the_thing", "thething"},  // '_' is punctuation, removed before articles
        {"A.N. other", "other"},    // punctuation goes first, leaving the word "an"
        {"the1 a2 an", "the1 a2"},  // digits are word characters: no boundary
        {"l'an 2000", "lan 2000"},
        {"th\xc3\xa9 a caf\xc3\xa9", "th\xc3\xa9 caf\xc3\xa9"},  // accented letters are \w
        {"\xc3\xa9the", "\xc3\xa9the"},                          // no boundary after 'é'
        {"24\xe2\x80\x93"
         "10",
         "24\xe2\x80\x93"
         "10"},  // en dash is not ASCII punct
        {"tab\tand\nnewline\xe3\x80\x80space", "tab and newline space"},
        {"\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\xa5\xce\xa3",   // ΟΔΥΣΣΕΥΣ
         "\xce\xbf\xce\xb4\xcf\x85\xcf\x83\xcf\x83\xce\xb5\xcf\x85\xcf\x82"},  // οδυσσευς
        {"", ""},
        {"The", ""},
        {"?!", ""},
    };
    for (const auto& [in, want] : cases) {
        EXPECT_EQ(squad_normalize_answer(in), want) << in;
    }
}

TEST(Squad, ExactMatchAndF1) {
    EXPECT_EQ(squad_exact_match("The Broncos", "broncos"), 1.0);
    EXPECT_EQ(squad_exact_match("Broncos.", "Denver Broncos"), 0.0);
    // prediction denver broncos team vs gold denver broncos: P = 2/3, R = 1, F1 = 0.8
    EXPECT_NEAR(squad_f1("Denver Broncos team", "the Denver Broncos"), 0.8, 1e-15);
    // repeated tokens are clipped: pred a-less "cat cat cat" vs "cat dog": 1 shared
    // P = 1/3, R = 1/2, F1 = 0.4
    EXPECT_NEAR(squad_f1("cat cat cat", "cat dog"), 0.4, 1e-15);
    EXPECT_EQ(squad_f1("Carolina Panthers", "Denver Broncos"), 0.0);
}

TEST(Squad, EmptyAnswersFollowV11) {
    // both normalize to "": exact match, but F1 0 (v2.0 would give 1)
    EXPECT_EQ(squad_exact_match("", ""), 1.0);
    EXPECT_EQ(squad_f1("", ""), 0.0);
    EXPECT_EQ(squad_exact_match("the", "a"), 1.0);
    EXPECT_EQ(squad_f1("the", "a"), 0.0);
    EXPECT_EQ(squad_f1("", "Denver"), 0.0);
}

TEST(Squad, MaxOverGoldAnswersAndCorpusPercent) {
    const SquadScore one =
        squad_score("Broncos team", {"Carolina Panthers", "Denver Broncos", "the broncos"});
    EXPECT_EQ(one.exact_match, 0.0);
    EXPECT_NEAR(one.f1, 2.0 / 3, 1e-15);  // vs "broncos": P = 1/2, R = 1
    EXPECT_EQ(one.n_scored, 1u);

    const SquadScore c = squad_corpus({"Denver Broncos", "Broncos team", "Santa Clara"},
                                      {{"Denver Broncos"}, {"broncos"}, {"Levi's Stadium"}});
    EXPECT_NEAR(c.exact_match, 100.0 / 3, 1e-12);
    EXPECT_NEAR(c.f1, 100.0 * (1.0 + 2.0 / 3 + 0.0) / 3, 1e-12);
    EXPECT_EQ(c.n_scored, 3u);
}

TEST(Squad, BadInput) {
    EXPECT_THROW(squad_score("a", {}), Error);
    EXPECT_THROW(squad_corpus({"a", "b"}, {{"a"}}), Error);
    EXPECT_THROW(squad_corpus({}, {}), Error);
    try {
        squad_corpus({"a", "b"}, {{"a"}, {}});
        ADD_FAILURE() << "accepted a question without gold answers";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("question 1 has no gold answers"), std::string::npos);
    }
    EXPECT_THROW(squad_normalize_answer("\xc3("), Error);
}

// The shipped dev-mini set: gold answers score 100; another question's answer scores low.
TEST(Squad, ShippedDevMiniSet) {
    const auto path = test::data_dir() / "datasets/squad-v1.1-dev/dev-v1.1-mini.json";
    std::ifstream in(path);
    if (!in) {
        GTEST_SKIP() << "no shipped data at " << path;
    }
    const auto squad = nlohmann::json::parse(in);
    std::vector<std::string> exact;
    std::vector<std::string> shifted;
    std::vector<std::vector<std::string>> golds;
    for (const auto& article : squad.at("data")) {
        for (const auto& para : article.at("paragraphs")) {
            for (const auto& qa : para.at("qas")) {
                std::vector<std::string> answers;
                for (const auto& a : qa.at("answers")) {
                    answers.push_back(a.at("text").get<std::string>());
                }
                exact.push_back(answers.back());
                golds.push_back(std::move(answers));
            }
        }
    }
    for (std::size_t i = 0; i < golds.size(); ++i) {
        shifted.push_back(golds[(i + 1) % golds.size()].front());
    }
    const SquadScore perfect = squad_corpus(exact, golds);
    EXPECT_EQ(perfect.n_scored, 990u);
    EXPECT_DOUBLE_EQ(perfect.exact_match, 100.0);
    EXPECT_DOUBLE_EQ(perfect.f1, 100.0);
    const SquadScore wrong = squad_corpus(shifted, golds);
    EXPECT_LT(wrong.exact_match, 20.0);
    EXPECT_LT(wrong.f1, 30.0);
    EXPECT_GT(wrong.f1, wrong.exact_match);
}

}  // namespace
}  // namespace qforge::eval
