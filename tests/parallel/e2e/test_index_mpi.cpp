// What is here: `qforge index` under mpirun: 2 ranks share the chunk embedding and rank 0
// alone writes an index equal to the one-process build (BM25 files byte-identical, embeddings
// equal to float rounding); and a training config's index: section builds the index at the
// end of a 2-rank `qforge train`.
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>

#include "parallel/e2e/e2e_support.h"
#include "rag/dense_fixtures.h"
#include "rag/retriever.h"
#include "support/test_support.h"

namespace qforge::test {

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The first `n` SQuAD paragraphs as <dir>/docs/squad.jsonl; false without the shipped data.
bool squad_docs(const fs::path& dir, int n) {
    std::ifstream in(data_dir() / "datasets/squad-v1.1-dev/rag_corpus.jsonl");
    if (!in || !have_minilm_tokenizer()) {
        return false;
    }
    fs::create_directories(dir / "docs");
    std::ofstream out(dir / "docs" / "squad.jsonl");
    std::string line;
    for (int i = 0; i < n && std::getline(in, line); ++i) {
        out << line << "\n";
    }
    return true;
}

TEST(IndexMpi, TwoRanksEmbedRankZeroWritesTheSameIndex) {
    TempDir tmp;
    if (!squad_docs(tmp.path(), 24)) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const fs::path enc = make_tiny_encoder(tmp.path());
    const std::string args = "index -q --docs '" + (tmp.path() / "docs").string() +
                             "' --chunk-tokens 48 --overlap 8 --encoder '" + enc.string() +
                             "' --out ";
    const auto one = run_command(qforge_job(0, args + "'" + (tmp.path() / "one").string() + "'"));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    const auto two = run_command(qforge_job(2, args + "'" + (tmp.path() / "two").string() + "'"));
    ASSERT_EQ(two.exit_code, 0) << two.err;
    // Rank 0 alone reports (and writes).
    EXPECT_NE(two.out.find("2 rank(s)"), std::string::npos) << two.out;
    std::size_t reports = 0;
    for (std::size_t at = two.out.find("wrote index"); at != std::string::npos;
         at = two.out.find("wrote index", at + 1)) {
        ++reports;
    }
    EXPECT_EQ(reports, 1u) << two.out;

    const auto a = rag::Retriever::open(tmp.path() / "one");
    const auto b = rag::Retriever::open(tmp.path() / "two");
    const auto& ma = a.bm25().manifest();
    const auto& mb = b.bm25().manifest();
    EXPECT_EQ(read_bytes(tmp.path() / "one" / ma.chunks_file.name),
              read_bytes(tmp.path() / "two" / mb.chunks_file.name));
    EXPECT_EQ(read_bytes(tmp.path() / "one" / ma.postings_file.name),
              read_bytes(tmp.path() / "two" / mb.postings_file.name));
    ASSERT_TRUE(a.has_dense() && b.has_dense());
    const auto& ea = a.dense()->matrix();
    const auto& eb = b.dense()->matrix();
    ASSERT_EQ(ea.rows, eb.rows);
    ASSERT_EQ(ea.dim, eb.dim);
    EXPECT_GT(ea.rows, 24u);
    double max_diff = 0;
    for (std::size_t i = 0; i < ea.rows * ea.dim; ++i) {
        max_diff = std::max(max_diff, std::abs(static_cast<double>(ea.data[i]) - eb.data[i]));
    }
    EXPECT_LT(max_diff, 1e-5);
}

TEST(IndexMpi, TrainConfigIndexSectionBuildsTheIndexAtTheEnd) {
    TempDir tmp;
    if (!squad_docs(tmp.path(), 6)) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const fs::path enc = make_tiny_encoder(tmp.path());
    const auto r =
        run_command(qforge_job(2, tiny_train_args(tmp.path(), "withindex",
                                                  {"train.max_steps=2", "checkpoint.every=0",
                                                   "index.docs=" + (tmp.path() / "docs").string(),
                                                   "index.encoder=" + enc.string(),
                                                   "index.chunk_tokens=64", "index.overlap=8"})));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("index:"), std::string::npos) << r.out;
    const fs::path index = tmp.path() / "withindex" / "index";
    const auto retriever = rag::Retriever::open(index);
    EXPECT_TRUE(retriever.has_dense());
    EXPECT_EQ(retriever.bm25().num_documents(), 6u);
    rag::RetrieveOptions o;
    o.mode = rag::RetrieveMode::kHybrid;
    o.k = 3;
    EXPECT_EQ(retriever.search("Super Bowl", o).size(), 3u);
}

}  // namespace
}  // namespace qforge::test
