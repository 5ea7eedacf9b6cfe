// What is here: corrective RAG: sentence strips, the action thresholds, the keyword rewrite,
// refinement keeping the strip with the answer, the three paths on a SQuAD index, the JSON
// decision log, and the model-judged evaluator on the shipped stories260K model.
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "rag/crag.h"
#include "rag/crag_strips.h"
#include "rag/index_build.h"
#include "rag/rag_prompt.h"
#include "support/test_support.h"

namespace qforge::rag {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> strips_of(const std::string& text, std::size_t min_bytes) {
    std::vector<std::string> out;
    for (const TextSpan& s : split_strips(text, min_bytes)) {
        out.push_back(text.substr(s.offset, s.length));
    }
    return out;
}

TEST(CragStrips, SentencesLinesAndShortPieces) {
    EXPECT_EQ(strips_of("One sentence here. Another one follows!  And a third? Yes.", 0),
              (std::vector<std::string>{"One sentence here.", "Another one follows!",
                                        "And a third?", "Yes."}));
    // Short strips merge forward; the last short one merges back. Decimals do not split.
    EXPECT_EQ(strips_of("It cost 3.5 dollars (\"cheap.\") Really. No.\nA new line starts", 10),
              (std::vector<std::string>{"It cost 3.5 dollars (\"cheap.\")", "Really. No.",
                                        "A new line starts"}));
    EXPECT_TRUE(split_strips("   \n ").empty());
}

TEST(CragDecide, ThresholdsMapToActions) {
    CragOptions o;
    o.upper = 0.6;
    o.lower = 0.25;
    EXPECT_EQ(crag_decide({0.1, 0.7, 0.0}, o), CragAction::kCorrect);
    EXPECT_EQ(crag_decide({0.6}, o), CragAction::kCorrect);
    EXPECT_EQ(crag_decide({0.1, 0.2, 0.24}, o), CragAction::kIncorrect);
    EXPECT_EQ(crag_decide({}, o), CragAction::kIncorrect);
    EXPECT_EQ(crag_decide({0.1, 0.25, 0.59}, o), CragAction::kAmbiguous);
    o.lower = 0.7;
    EXPECT_THROW(crag_decide({0.5}, o), Error);
}

class CragSquad : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const fs::path squad = test::data_dir() / "datasets/squad-v1.1-dev";
        if (!fs::exists(squad / "rag_corpus.jsonl")) {
            return;
        }
        tmp_ = new test::TempDir();
        std::ifstream in(squad / "rag_corpus.jsonl");
        std::ofstream out(tmp_->path() / "squad.jsonl");
        std::string line;
        for (int i = 0; i < 120 && std::getline(in, line); ++i) {
            out << line << "\n";
        }
        out.close();
        IndexParams p;
        p.chunk = {96, 16};
        build_index({tmp_->path() / "squad.jsonl", tmp_->path() / "idx", false, p});
        retriever_ = new Retriever(Retriever::open(tmp_->path() / "idx"));
    }

    static void TearDownTestSuite() {
        delete retriever_;
        delete tmp_;
        retriever_ = nullptr;
        tmp_ = nullptr;
    }

    void SetUp() override {
        if (retriever_ == nullptr) {
            GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
        }
    }

    static test::TempDir* tmp_;
    static Retriever* retriever_;
};

test::TempDir* CragSquad::tmp_ = nullptr;
Retriever* CragSquad::retriever_ = nullptr;

TEST_F(CragSquad, LexicalScoresAndRewrite) {
    const Bm25Index& index = retriever_->bm25();
    const LexicalEvaluator ev(index);
    const std::string q = "Which NFL team represented the AFC at Super Bowl 50?";
    // Question words (which, what, did...) are not evidence; every other term is there.
    EXPECT_DOUBLE_EQ(ev.score(q,
                              "The NFL team that represented the AFC at Super Bowl 50 was the "
                              "Denver Broncos."),
                     1.0);
    EXPECT_DOUBLE_EQ(ev.score(q, "Nothing in common with it."), 0.0);
    const double part = ev.score(q, "Super Bowl 50 was played in California.");
    EXPECT_GT(part, 0.0);
    EXPECT_LT(part, 1.0);
    // Rare terms first; stop words and duplicates gone; capped.
    const std::string rewritten = crag_rewrite_query(q + " AFC AFC", index, 4);
    EXPECT_EQ(std::count(rewritten.begin(), rewritten.end(), ' '), 3) << rewritten;
    EXPECT_EQ(rewritten.find("the"), std::string::npos) << rewritten;
    EXPECT_EQ(rewritten.find("which"), std::string::npos) << rewritten;
    EXPECT_EQ(rewritten.find("afc"), rewritten.rfind("afc")) << rewritten;
}

TEST_F(CragSquad, RefinementKeepsTheAnswerStripAndSavesContext) {
    const Bm25Index& index = retriever_->bm25();
    const LexicalEvaluator ev(index);
    CragOptions o;
    const std::string q = "Where was Super Bowl 50 played?";
    RetrieveOptions r;
    r.k = 5;
    const CragResult res = corrective_retrieve(q, *retriever_, r, ev, o);
    ASSERT_EQ(res.scores.size(), 5u);
    EXPECT_EQ(res.action, CragAction::kCorrect);
    ASSERT_FALSE(res.passages.empty());
    EXPECT_LT(res.context_bytes, res.retrieved_bytes);
    bool found = false;
    for (const CragPassage& p : res.passages) {
        EXPECT_LE(p.strips_kept, p.strips_total);
        EXPECT_GE(p.strips_kept, 1u);
        found = found || p.text.find("Levi's Stadium") != std::string::npos;
        // The offset points at the first kept strip in the document's text.
        const ChunkView c = index.chunk(p.chunk);
        const std::string first = p.text.substr(0, 20);
        EXPECT_EQ(c.text.substr(p.byte_offset - c.byte_offset, first.size()), first);
    }
    EXPECT_TRUE(found) << "the strip with the answer was dropped";

    const auto log = nlohmann::json::parse(crag_log_json(q, res, o, ev.name(), index));
    EXPECT_EQ(log["event"], "crag_decision");
    EXPECT_EQ(log["action"], "correct");
    EXPECT_EQ(log["evaluator"], "lexical");
    ASSERT_EQ(log["retrieved"].size(), 5u);
    EXPECT_DOUBLE_EQ(log["retrieved"][0]["score"].get<double>(), res.scores[0]);
    EXPECT_FALSE(log.contains("rewritten_query"));
}

TEST_F(CragSquad, IncorrectAndAmbiguousSearchWider) {
    const Bm25Index& index = retriever_->bm25();
    const LexicalEvaluator ev(index);
    RetrieveOptions r;
    r.k = 3;
    CragOptions o;
    o.upper = 1.0;  // nothing can be Correct except a full match
    o.lower = 0.99;
    o.wide_k = 10;
    o.k = 3;
    const std::string q = "Which team won Super Bowl 50 zebra quantum?";
    CragResult res = corrective_retrieve(q, *retriever_, r, ev, o);
    EXPECT_EQ(res.action, CragAction::kIncorrect);
    EXPECT_FALSE(res.rewritten_query.empty());
    EXPECT_EQ(res.wide.size(), 10u);
    ASSERT_FALSE(res.passages.empty());
    for (const CragPassage& p : res.passages) {
        EXPECT_TRUE(p.from_wide_search);
    }
    auto log = nlohmann::json::parse(crag_log_json(q, res, o, ev.name(), index));
    EXPECT_EQ(log["action"], "incorrect");
    EXPECT_EQ(log["rewritten_query"], res.rewritten_query);
    EXPECT_EQ(log["wide"].size(), 10u);

    o.lower = 0.3;
    res = corrective_retrieve(q, *retriever_, r, ev, o);
    EXPECT_EQ(res.action, CragAction::kAmbiguous);
    ASSERT_FALSE(res.passages.empty());
    EXPECT_FALSE(res.passages.front().from_wide_search);  // refined internal knowledge first
    EXPECT_LE(res.passages.size(), 3u);
}

TEST(RagPrompt, NumbersPassagesFitsTheBudgetAndParsesCitations) {
    const fs::path model = test::data_dir() / "models/stories260K";
    if (!fs::exists(model / "tokenizer.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const Tokenizer tok = Tokenizer::load(model);
    std::vector<ContextSource> src = {{0, "Lily had a red ball.", "a", "Ball", "s.jsonl:1", 0},
                                      {1, std::string(400, 'x') + " end", "b", "", "s.jsonl:2", 7}};
    RagPrompt p = build_rag_prompt("What color was the ball?", src, tok, 4000);
    EXPECT_NE(p.text.find("[1] Ball: Lily had a red ball.\n[2] xxx"), std::string::npos) << p.text;
    EXPECT_TRUE(p.text.ends_with("Question: What color was the ball?\nAnswer:"));
    EXPECT_EQ(p.used.size(), 2u);
    const std::size_t full = p.ids.size();
    p = build_rag_prompt("What color was the ball?", src, tok, full - 1);
    EXPECT_EQ(p.used.size(), 1u);
    EXPECT_EQ(p.dropped_passages, 1u);
    EXPECT_LE(p.ids.size(), full - 1);
    EXPECT_THROW(build_rag_prompt("What color was the ball?", src, tok, 5), Error);
    EXPECT_EQ(cited_passages("It was red [2], see [1] and [2]; not [3] or [x] or [0].", 2),
              (std::vector<std::size_t>{2, 1}));
}

TEST(CragModelEvaluator, YesNoProbabilityFromTheModel) {
    const fs::path model_dir = test::data_dir() / "models/stories260K";
    if (!fs::exists(model_dir / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const Tokenizer tok = Tokenizer::load(model_dir);
    const LlamaModel model = LlamaModel::load(model_dir);
    const ModelEvaluator ev(model, tok);
    const double a = ev.score("Where is the ball?", "The ball is in the garden.");
    const double b = ev.score("Where is the ball?", "Tom likes to eat apples.");
    EXPECT_GT(a, 0.0);
    EXPECT_LT(a, 1.0);
    EXPECT_NE(a, b);  // the passage changes the model's judgement
    // A passage longer than the context is cut, not an error.
    EXPECT_NO_THROW(ev.score("Where?", std::string(6000, 'a')));
}

}  // namespace
}  // namespace qforge::rag
