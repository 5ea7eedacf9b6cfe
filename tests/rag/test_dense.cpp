// What is here: the dense half of the index: exact inner-product search against a double
// brute-force reference, embeddings stored by `qforge index --encoder` equal to the encoder's
// own output (random-weight MiniLM config), HNSW recall@10 against exact search on a few
// thousand SQuAD chunks, --add for dense, hybrid fusion, and the load-time errors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kernels/common.h"
#include "rag/dense_fixtures.h"
#include "rag/dense_index.h"
#include "rag/dense_search.h"
#include "rag/hnsw_graph.h"
#include "rag/index_build.h"
#include "rag/retriever.h"
#include "support/test_support.h"

namespace qforge::rag {
namespace {

namespace fs = std::filesystem;

using test::read_text;
using test::write_text;

// Brute force in double: (score, chunk) of every row, best first, ties by chunk.
std::vector<ScoredChunk> reference_ranking(const std::vector<float>& m, std::size_t dim,
                                           const std::vector<float>& q) {
    std::vector<ScoredChunk> all;
    for (std::size_t i = 0; i < m.size() / dim; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < dim; ++j) {
            s += static_cast<double>(m[i * dim + j]) * q[j];
        }
        all.push_back({static_cast<std::uint32_t>(i), s});
    }
    std::sort(all.begin(), all.end(), [](const ScoredChunk& a, const ScoredChunk& b) {
        return a.score != b.score ? a.score > b.score : a.chunk < b.chunk;
    });
    return all;
}

// Exact top-k equals the reference: same ids in order, except where two reference scores are
// closer than float rounding can tell apart; scores agree to 1e-5 relative.
void expect_exact_top_k(const std::vector<ScoredChunk>& got, const std::vector<ScoredChunk>& ref,
                        std::size_t k) {
    ASSERT_EQ(got.size(), std::min(k, ref.size()));
    for (std::size_t r = 0; r < got.size(); ++r) {
        EXPECT_NEAR(got[r].score, ref[r].score, 1e-5 * std::max(1.0, std::abs(ref[r].score)))
            << "rank " << r;
        if (got[r].chunk != ref[r].chunk) {
            const bool near_tie = (r + 1 < ref.size() && ref[r].score - ref[r + 1].score < 1e-6) ||
                                  (r > 0 && ref[r - 1].score - ref[r].score < 1e-6);
            EXPECT_TRUE(near_tie) << "rank " << r << ": chunk " << got[r].chunk << " vs "
                                  << ref[r].chunk;
        }
    }
}

std::vector<float> random_unit_rows(std::size_t n, std::size_t dim, std::uint64_t salt) {
    auto m = test::random_floats(n * dim, -1.0f, 1.0f, salt);
    for (std::size_t i = 0; i < n; ++i) {
        double norm = 0;
        for (std::size_t j = 0; j < dim; ++j) {
            norm += static_cast<double>(m[i * dim + j]) * m[i * dim + j];
        }
        for (std::size_t j = 0; j < dim; ++j) {
            m[i * dim + j] = static_cast<float>(m[i * dim + j] / std::sqrt(norm));
        }
    }
    return m;
}

TEST(DenseSearch, ExactTopKMatchesBruteForce) {
    // Odd sizes: a dim that is not a multiple of the 8-wide accumulation, k > rows.
    for (const auto& [n, dim] : {std::pair<std::size_t, std::size_t>{1031, 384}, {17, 37}}) {
        const auto m = random_unit_rows(n, dim, 1);
        const EmbeddingMatrix matrix{m.data(), n, dim};
        for (int qi = 0; qi < 5; ++qi) {
            const auto q = random_unit_rows(1, dim, 100 + static_cast<std::uint64_t>(qi));
            const auto ref = reference_ranking(m, dim, q);
            for (std::size_t k : {1, 10, 50}) {
                expect_exact_top_k(exact_search(matrix, q, k), ref, k);
            }
        }
    }
}

TEST(DenseSearch, HnswGraphRecallAndSaveLoad) {
    const std::size_t n = 3000, dim = 64;
    const auto m = random_unit_rows(n, dim, 7);
    const EmbeddingMatrix matrix{m.data(), n, dim};
    const HnswGraph graph = HnswGraph::build(matrix, {16, 200});
    test::TempDir tmp;
    const IndexFileInfo info = graph.save(tmp.path() / "g.bin");
    EXPECT_EQ(info.bytes, fs::file_size(tmp.path() / "g.bin"));
    EXPECT_EQ(info.checksum, fnv1a64(read_text(tmp.path() / "g.bin")));
    const HnswGraph loaded = HnswGraph::load(tmp.path() / "g.bin", dim);
    ASSERT_EQ(loaded.size(), n);
    double hit = 0, total = 0;
    for (int qi = 0; qi < 100; ++qi) {
        const auto q = random_unit_rows(1, dim, 1000 + static_cast<std::uint64_t>(qi));
        const auto exact = exact_search(matrix, q, 10);
        const auto a = graph.search(q, 10, 64), b = loaded.search(q, 10, 64);
        ASSERT_EQ(a.size(), 10u);
        for (std::size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].chunk, b[i].chunk);  // the saved graph is the same graph
        }
        std::set<std::uint32_t> truth;
        for (const auto& h : exact) {
            truth.insert(h.chunk);
        }
        for (const auto& h : a) {
            hit += truth.count(h.chunk);
        }
        total += 10;
    }
    std::printf("hnsw recall@10 on %zu random unit vectors (d=%zu, ef=64): %.3f\n", n, dim,
                hit / total);
    EXPECT_GE(hit / total, 0.95);
    EXPECT_THROW(HnswGraph::load(tmp.path() / "missing.bin", dim), Error);
    EXPECT_THROW(HnswGraph::load(tmp.path() / "g.bin", dim + 1), Error);
}

// A few documents in a corpus directory.
void small_corpus(const fs::path& dir, int first, int count) {
    static const char* sentences[] = {"The river bank flooded after the storm.",
                                      "Interest rates at the bank rose again.",
                                      "Paris is the capital of France.",
                                      "The boat crossed the lake at dawn.",
                                      "Zürich lies on a lake in Switzerland.",
                                      "Tax returns are due in April.",
                                      "A bridge spans the river near the old mill.",
                                      "Fishing boats returned with the tide."};
    std::string jsonl;
    for (int i = first; i < first + count; ++i) {
        std::string text;
        for (int s = 0; s < 3 + i % 4; ++s) {
            text += std::string(sentences[(i * 3 + s) % 8]) + " ";
        }
        jsonl += "{\"id\": \"d" + std::to_string(i) + "\", \"title\": \"Doc " + std::to_string(i) +
                 "\", \"text\": \"" + text + "\"}\n";
    }
    write_text(dir / ("part" + std::to_string(first) + ".jsonl"), jsonl);
}

IndexParams dense_params(const fs::path& encoder) {
    IndexParams p;
    p.chunk = {24, 4};
    p.dense.emplace();
    p.dense->encoder = encoder.string();
    p.dense->max_length = 64;
    return p;
}

TEST(DenseIndex, StoredEmbeddingsAreTheEncodersAndSearchIsExact) {
    if (!test::have_minilm_tokenizer()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir tmp;
    // Seeded random weights in the real MiniLM config (6 layers, hidden 384).
    const fs::path enc = test::make_random_minilm(tmp.path());
    small_corpus(tmp.path() / "docs", 0, 5);
    const auto report =
        build_index({tmp.path() / "docs", tmp.path() / "idx", false, dense_params(enc)});
    EXPECT_EQ(report.chunks_embedded, report.manifest.counts.chunks);
    EXPECT_EQ(report.manifest.counts.dim, 384u);
    EXPECT_FALSE(report.manifest.hnsw_file.has_value());  // auto: exact for a small corpus

    const Retriever r = Retriever::open(tmp.path() / "idx");
    ASSERT_TRUE(r.has_dense());
    const DenseIndex& d = *r.dense();
    const std::size_t n = d.size();
    ASSERT_EQ(n, r.bm25().num_chunks());
    // Each stored row equals the encoder's embedding of the chunk text, computed here alone.
    const BertEncoder encoder = BertEncoder::load(enc);
    std::vector<std::string> texts;
    for (std::size_t c = 0; c < n; ++c) {
        texts.emplace_back(r.bm25().chunk(c).text);
    }
    const auto alone = encoder.embed(texts, Pooling::kMean, true, 1, 64);
    std::vector<float> flat;
    for (std::size_t c = 0; c < n; ++c) {
        double diff = 0, norm = 0;
        for (std::size_t j = 0; j < 384; ++j) {
            diff =
                std::max(diff, std::abs(static_cast<double>(d.matrix().row(c)[j]) - alone[c][j]));
            norm += static_cast<double>(d.matrix().row(c)[j]) * d.matrix().row(c)[j];
        }
        EXPECT_LT(diff, 1e-5) << "chunk " << c;
        EXPECT_NEAR(norm, 1.0, 1e-5);
        flat.insert(flat.end(), alone[c].begin(), alone[c].end());
    }
    for (const char* query : {"capital of France", "storm flooded the river", "tax in April"}) {
        const auto q = encoder.embed({query}, Pooling::kMean, true, 1, 64)[0];
        const auto ref = reference_ranking(flat, 384, q);
        RetrieveOptions o;
        o.mode = RetrieveMode::kDense;
        o.k = 5;
        expect_exact_top_k(r.search(query, o), ref, 5);
        // Hybrid RRF is the fusion of the two lists the retriever makes.
        o.mode = RetrieveMode::kHybrid;
        o.candidates = 8;
        const auto fused = r.search(query, o);
        const auto expect = reciprocal_rank_fusion(
            {r.bm25().search(query, 8), d.search(q, 8, AnnMode::kExact)}, 60.0, 5);
        ASSERT_EQ(fused.size(), expect.size());
        for (std::size_t i = 0; i < fused.size(); ++i) {
            EXPECT_EQ(fused[i].chunk, expect[i].chunk);
        }
    }
}

std::vector<std::string> squad_questions(std::size_t n) {
    std::ifstream in(test::data_dir() / "datasets/squad-v1.1-dev/rag_queries.jsonl");
    std::vector<std::string> out;
    std::string line;
    for (std::size_t i = 0; out.size() < n && std::getline(in, line); ++i) {
        if (i % 37 == 0) {  // spread over the whole set
            out.push_back(nlohmann::json::parse(line)["question"]);
        }
    }
    return out;
}

TEST(DenseIndex, HnswRecallAt10OnSquadChunks) {
    const fs::path corpus = test::data_dir() / "datasets/squad-v1.1-dev/rag_corpus.jsonl";
    if (!test::have_minilm_tokenizer() || !fs::exists(corpus)) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir tmp;
    // The first 240 paragraphs cut into 12-word chunks: a few thousand chunks, embedded by the
    // tiny golden encoder (MiniLM vocabulary) to keep the test fast.
    std::ifstream in(corpus);
    std::string line, part;
    for (int i = 0; i < 240 && std::getline(in, line); ++i) {
        part += line + "\n";
    }
    write_text(tmp.path() / "docs" / "squad.jsonl", part);
    IndexParams p = dense_params(test::make_tiny_encoder(tmp.path()));
    p.chunk = {12, 0};
    IndexBuildOptions opt{tmp.path() / "docs", tmp.path() / "idx", false, p};
    opt.ann = "hnsw";
    const auto report = build_index(opt);
    ASSERT_TRUE(report.manifest.hnsw_file.has_value());
    const std::size_t n = report.manifest.counts.chunks;
    EXPECT_GE(n, 2000u);
    std::printf("build: chunk %.2f s, embed %.2f s, write (with HNSW) %.2f s\n",
                report.chunk_seconds, report.embed_seconds, report.write_seconds);
    const Retriever r = Retriever::open(tmp.path() / "idx");
    ASSERT_TRUE(r.dense()->has_hnsw());
    double hit = 0, total = 0;
    for (const auto& question : squad_questions(200)) {
        const auto q = r.embed_query(question);
        const auto exact = r.dense()->search(q, 10, AnnMode::kExact);
        const auto approx = r.dense()->search(q, 10, AnnMode::kHnsw, 64);
        std::set<std::uint32_t> truth;
        for (const auto& h : exact) {
            truth.insert(h.chunk);
        }
        for (const auto& h : approx) {
            hit += truth.count(h.chunk);
        }
        total += static_cast<double>(exact.size());
    }
    std::printf("hnsw recall@10 vs exact on %zu SQuAD chunks (tiny encoder, ef=64): %.3f\n", n,
                hit / total);
    EXPECT_GE(hit / total, 0.95);
}

TEST(DenseIndex, AddEmbedsOnlyNewChunksAndExtendsTheGraph) {
    if (!test::have_minilm_tokenizer()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir tmp;
    const IndexParams p = dense_params(test::make_tiny_encoder(tmp.path()));
    small_corpus(tmp.path() / "all", 0, 6);
    small_corpus(tmp.path() / "all", 6, 5);
    small_corpus(tmp.path() / "inc", 0, 6);
    for (const char* ann : {"exact", "hnsw"}) {
        const fs::path all = tmp.path() / (std::string("idx_all_") + ann);
        const fs::path inc = tmp.path() / (std::string("idx_inc_") + ann);
        IndexBuildOptions o{tmp.path() / "all", all, false, p};
        o.ann = ann;
        build_index(o);
        o = {tmp.path() / "inc", inc, false, p};
        o.ann = ann;
        const auto first = build_index(o);
        small_corpus(tmp.path() / "inc", 6, 5);
        o.add = true;
        o.ann = "auto";  // keeps the graph the index has
        const auto second = build_index(o);
        EXPECT_EQ(second.chunks_embedded,
                  second.manifest.counts.chunks - first.manifest.counts.chunks);
        EXPECT_EQ(second.manifest.hnsw_file.has_value(), std::string(ann) == "hnsw");
        const Retriever a = Retriever::open(all), b = Retriever::open(inc);
        ASSERT_EQ(a.dense()->size(), b.dense()->size());
        // Same chunks in the same order: the stored embeddings are byte-identical.
        const auto& ma = a.dense()->matrix();
        const auto& mb = b.dense()->matrix();
        EXPECT_EQ(0, std::memcmp(ma.data, mb.data, ma.rows * ma.dim * sizeof(float)));
        if (b.dense()->has_hnsw()) {
            EXPECT_EQ(b.dense()->hnsw()->size(), b.dense()->size());
            const auto q = b.embed_query("river bank storm");
            const auto exact = b.dense()->search(q, 3, AnnMode::kExact);
            const auto approx = b.dense()->search(q, 3, AnnMode::kHnsw, 50);
            ASSERT_EQ(exact.size(), approx.size());
            for (std::size_t i = 0; i < exact.size(); ++i) {
                // Tiny graph, wide ef: the exact answer (ids may swap among repeated chunks).
                EXPECT_NEAR(exact[i].score, approx[i].score, 1e-6) << i;
            }
        }
        // Old generation files are gone.
        std::size_t bins = 0;
        for (const auto& e : fs::directory_iterator(inc)) {
            bins += e.path().extension() == ".bin";
        }
        EXPECT_EQ(bins, std::string(ann) == "hnsw" ? 4u : 3u);
    }
    // --add with another encoder setting is refused, naming it.
    IndexParams other = p;
    other.dense->pooling = "cls";
    try {
        build_index({tmp.path() / "inc", tmp.path() / "idx_inc_exact", true, other});
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("pooling cls vs mean"), std::string::npos) << e.what();
    }
}

class DenseErrors : public ::testing::Test {
protected:
    void SetUp() override {
        if (!test::have_minilm_tokenizer()) {
            GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
        }
        small_corpus(tmp.path() / "docs", 0, 4);
        IndexBuildOptions o{tmp.path() / "docs", dir(), false,
                            dense_params(test::make_tiny_encoder(tmp.path()))};
        o.ann = "hnsw";
        manifest = build_index(o).manifest;
    }

    fs::path dir() const { return tmp.path() / "idx"; }

    std::string open_error(RetrieveMode mode = RetrieveMode::kDense, const fs::path& index = {}) {
        try {
            const Retriever r = Retriever::open(index.empty() ? dir() : index);
            RetrieveOptions o;
            o.mode = mode;
            o.ann = AnnMode::kHnsw;
            (void)r.search("river", o);
        } catch (const Error& e) {
            return e.what();
        }
        return "(no error)";
    }

    test::TempDir tmp;
    IndexManifest manifest;
};

TEST_F(DenseErrors, CorruptOrTruncatedDenseFilesAreNamed) {
    EXPECT_EQ(open_error(), "(no error)");
    for (const auto& info : {*manifest.embeddings_file, *manifest.hnsw_file}) {
        const fs::path file = dir() / info.name;
        const std::string bytes = read_text(file);
        std::string bad = bytes;
        bad[bad.size() - 5] = static_cast<char>(bad[bad.size() - 5] ^ 0x21);
        write_text(file, bad);
        std::string err = open_error();
        EXPECT_NE(err.find(info.name), std::string::npos) << err;
        EXPECT_NE(err.find("corrupt"), std::string::npos) << err;
        write_text(file, bytes.substr(0, bytes.size() - 8));
        err = open_error();
        EXPECT_NE(err.find("truncated"), std::string::npos) << err;
        write_text(file, bytes);
    }
    EXPECT_EQ(open_error(), "(no error)");
}

TEST_F(DenseErrors, OldVersionAndBm25OnlyIndexesSayWhatToDo) {
    // A version-1 manifest (an index from before dense embeddings).
    std::string text = read_text(dir() / "manifest.json");
    const auto at = text.find("\"version\": 2");
    ASSERT_NE(at, std::string::npos);
    write_text(dir() / "manifest.json",
               text.substr(0, at) + "\"version\": 1" + text.substr(at + 12));
    std::string err = open_error(RetrieveMode::kBm25);
    EXPECT_NE(err.find("index format version 1, but this qforge reads version 2"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("rebuild the index"), std::string::npos) << err;
    write_text(dir() / "manifest.json", text);

    IndexParams bm25_only;
    bm25_only.chunk = {24, 4};
    build_index({tmp.path() / "docs", tmp.path() / "bm25", false, bm25_only});
    err = open_error(RetrieveMode::kHybrid, tmp.path() / "bm25");
    EXPECT_NE(err.find("no dense embeddings"), std::string::npos) << err;
    EXPECT_NE(err.find("--encoder"), std::string::npos) << err;
    EXPECT_EQ(open_error(RetrieveMode::kBm25, tmp.path() / "bm25"), "(no error)");
    // --ann hnsw on an index without a graph.
    IndexBuildOptions o{tmp.path() / "docs", tmp.path() / "exact", false,
                        dense_params(tmp.path() / "tiny-encoder")};
    o.ann = "exact";
    build_index(o);
    err = open_error(RetrieveMode::kDense, tmp.path() / "exact");
    EXPECT_NE(err.find("no HNSW graph"), std::string::npos) << err;
}

}  // namespace
}  // namespace qforge::rag
