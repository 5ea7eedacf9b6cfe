// End to end: `qforge index` on a small SQuAD-derived corpus (BM25 + dense with a seeded
// random-weight MiniLM-config encoder), `qforge retrieve` in every mode, and `qforge rag` with
// the shipped stories260K model: the answer is meaningless with a 260K-parameter model, so
// this checks the mechanics: numbered sources with file, offset and title, the corrective
// decision log, exit codes, and clear errors for a missing index or model.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "rag/dense_fixtures.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;

fs::path stories_dir() {
    return test::data_dir() / "models/stories260K";
}

fs::path squad_corpus() {
    return test::data_dir() / "datasets/squad-v1.1-dev/rag_corpus.jsonl";
}

std::string q(const fs::path& p) {
    return "'" + p.string() + "'";
}

class RagCli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!fs::exists(stories_dir() / "config.json") || !fs::exists(squad_corpus()) ||
            !test::have_minilm_tokenizer()) {
            return;
        }
        tmp_ = new test::TempDir();
        std::ifstream in(squad_corpus());
        fs::create_directories(tmp_->path() / "docs");
        std::ofstream out(tmp_->path() / "docs" / "squad.jsonl");
        std::string line;
        for (int i = 0; i < 12 && std::getline(in, line); ++i) {
            out << line << "\n";
        }
        out.close();
        const fs::path enc = test::make_random_minilm(tmp_->path(), 0, 2);
        build_ = test::run_command(std::string(QFORGE_BINARY) + " index -q --docs " +
                                   q(tmp_->path() / "docs") + " --out " + q(index()) +
                                   " --chunk-tokens 64 --overlap 8 --encoder " + q(enc) +
                                   " --max-length 96");
    }

    static void TearDownTestSuite() {
        delete tmp_;
        tmp_ = nullptr;
    }

    void SetUp() override {
        if (tmp_ == nullptr) {
            GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
        }
        ASSERT_EQ(build_.exit_code, 0) << build_.err;
    }

    static fs::path index() { return tmp_->path() / "index"; }

    static test::TempDir* tmp_;
    static test::CommandResult build_;
};

test::TempDir* RagCli::tmp_ = nullptr;
test::CommandResult RagCli::build_;

TEST_F(RagCli, IndexReportsDenseAndRetrieveRunsEveryMode) {
    EXPECT_NE(build_.out.find("dense:"), std::string::npos) << build_.out;
    EXPECT_NE(build_.out.find("384-d"), std::string::npos) << build_.out;
    EXPECT_NE(build_.out.find("search: exact"), std::string::npos) << build_.out;
    for (const char* mode : {"bm25", "dense", "hybrid"}) {
        for (const char* fusion : {"rrf", "weighted"}) {
            const auto r = test::run_command(std::string(QFORGE_BINARY) + " retrieve --index " +
                                             q(index()) + " --query 'Super Bowl champion' -k 3 " +
                                             "--mode " + mode + " --fusion " + fusion);
            ASSERT_EQ(r.exit_code, 0) << mode << ": " << r.err;
            EXPECT_NE(r.out.find("1. score"), std::string::npos) << r.out;
            EXPECT_NE(r.out.find("3. score"), std::string::npos) << r.out;
            EXPECT_NE(r.out.find("squad.jsonl:"), std::string::npos) << r.out;
        }
    }
    const auto bad = test::run_command(std::string(QFORGE_BINARY) + " retrieve --index " +
                                       q(index()) + " --query x --mode dense --ann hnsw");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("no HNSW graph"), std::string::npos) << bad.err;
}

TEST_F(RagCli, AnswersWithNumberedSourcesAndCorrectiveLog) {
    const fs::path log = tmp_->path() / "crag.jsonl";
    const std::string cmd = std::string(QFORGE_BINARY) + " rag --model " + q(stories_dir()) +
                            " --index " + q(index()) +
                            " --question 'Which NFL team represented the AFC at Super Bowl 50?' "
                            "-k 3 --max-tokens 16";
    const auto plain = test::run_command(cmd);
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    const auto at = plain.out.find("\n\nSources:\n[1] squad.jsonl:");
    ASSERT_NE(at, std::string::npos) << plain.out;
    EXPECT_NE(plain.out.find("(byte "), std::string::npos);
    EXPECT_NE(plain.out.find("Super Bowl 50"), std::string::npos) << plain.out;  // a title
    EXPECT_NE(plain.err.find("prompt "), std::string::npos) << plain.err;

    const auto crag = test::run_command(cmd + " --corrective --log " + q(log));
    ASSERT_EQ(crag.exit_code, 0) << crag.err;
    EXPECT_NE(crag.out.find("Sources:\n[1] squad.jsonl:"), std::string::npos) << crag.out;
    EXPECT_NE(crag.err.find("corrective RAG: "), std::string::npos) << crag.err;
    std::ifstream in(log);
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["event"], "crag_decision");
    EXPECT_EQ(j["retrieved"].size(), 3u);
    const std::string action = j["action"];
    EXPECT_TRUE(action == "correct" || action == "ambiguous" || action == "incorrect") << action;
    for (const auto& r : j["retrieved"]) {
        EXPECT_GE(r["score"].get<double>(), 0.0);
        EXPECT_LE(r["score"].get<double>(), 1.0);
    }
    // Forced Incorrect: the log carries the rewrite and the wide search; decision on stderr.
    const auto wide = test::run_command(cmd + " --corrective --upper 1 --lower 1 --mode bm25");
    ASSERT_EQ(wide.exit_code, 0) << wide.err;
    EXPECT_NE(wide.err.find("\"action\":\"incorrect\""), std::string::npos) << wide.err;
    EXPECT_NE(wide.err.find("\"rewritten_query\""), std::string::npos) << wide.err;
    // The model as the judge.
    const auto judged = test::run_command(cmd + " --corrective --evaluator model -q");
    ASSERT_EQ(judged.exit_code, 0) << judged.err;
    EXPECT_NE(judged.err.find("\"evaluator\":\"model\""), std::string::npos) << judged.err;
}

TEST_F(RagCli, MissingIndexOrModelAreClearErrors) {
    const std::string base = std::string(QFORGE_BINARY) + " rag --question 'Who won?' ";
    auto r = test::run_command(base + "--model " + q(stories_dir()) + " --index " +
                               q(tmp_->path() / "nope"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--index"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("no such directory"), std::string::npos) << r.err;
    r = test::run_command(base + "--model " + q(tmp_->path() / "nomodel") + " --index " +
                          q(index()));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
    r = test::run_command(base + "--model " + q(stories_dir()) + " --index " +
                          q(tmp_->path() / "docs"));  // a directory, not an index
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("manifest.json"), std::string::npos) << r.err;
    r = test::run_command(base + "--index " + q(index()));  // --model missing
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qforge
