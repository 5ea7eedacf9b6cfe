// What is here: the on-disk index: round trip, --add equals building at once, version
// mismatch, truncated and corrupt files, and document loading errors.
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <map>
#include <random>
#include <sstream>

#include "kernels/common.h"
#include "rag/bm25_index.h"
#include "rag/document.h"
#include "rag/index_build.h"
#include "support/test_support.h"

namespace qforge::rag {
namespace {

namespace fs = std::filesystem;

using test::read_text;
using test::write_text;

std::string random_words(std::size_t n, std::mt19937_64& rng) {
    static const char* vocab[] = {"river",  "bank",   "money", "loan",  "fish", "boat",
                                  "Paris",  "Zürich", "2024",  "rate",  "tide", "storm",
                                  "bridge", "ÉCOLE",  "tax",   "water", "the",  "of"};
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += vocab[rng() % std::size(vocab)];
        s += (i % 9 == 8) ? ". " : " ";
    }
    return s;
}

// A corpus directory: a .jsonl file of `docs` documents and one Markdown file.
void make_corpus(const fs::path& dir, std::size_t first, std::size_t docs, std::mt19937_64& rng) {
    std::string jsonl;
    for (std::size_t i = first; i < first + docs; ++i) {
        jsonl += "{\"id\": \"doc" + std::to_string(i) + "\", \"title\": \"T" + std::to_string(i) +
                 "\", \"text\": \"" + random_words(20 + rng() % 120, rng) + "\"}\n";
    }
    write_text(dir / ("part" + std::to_string(first) + ".jsonl"), jsonl);
    write_text(dir / "notes" / ("n" + std::to_string(first) + ".md"),
               "# Notes " + std::to_string(first) + "\n\n" + random_words(300, rng));
}

IndexParams small_params() {
    IndexParams p;
    p.chunk = {40, 8};
    return p;
}

TEST(IndexIo, RoundTripKeepsChunksAndSources) {
    test::TempDir tmp;
    std::mt19937_64 rng(test::test_seed());
    make_corpus(tmp.path() / "docs", 0, 12, rng);
    const auto report =
        build_index({tmp.path() / "docs", tmp.path() / "idx", false, small_params()});
    EXPECT_EQ(report.documents_added, 13u);

    const Bm25Index index = Bm25Index::load(tmp.path() / "idx");
    EXPECT_EQ(index.num_documents(), 13u);
    EXPECT_EQ(index.num_chunks(), report.manifest.counts.chunks);
    EXPECT_GT(index.num_chunks(), 13u);
    EXPECT_EQ(index.manifest().params.chunk.max_tokens, 40u);
    // Every chunk's text is its document's text at the recorded byte offset.
    const auto docs = load_documents(tmp.path() / "docs");
    std::map<std::string, const Document*> by_id;
    for (const auto& d : docs) {
        by_id[d.id] = &d;
    }
    std::uint64_t total = 0;
    for (std::size_t c = 0; c < index.num_chunks(); ++c) {
        const ChunkView v = index.chunk(c);
        const Document& d = *by_id.at(std::string(v.doc_id));
        EXPECT_EQ(d.text.substr(v.byte_offset, v.text.size()), v.text);
        EXPECT_EQ(v.title, d.title);
        EXPECT_EQ(v.source, d.source);
        total += v.num_terms;
    }
    EXPECT_EQ(total, index.manifest().counts.total_terms);
    EXPECT_EQ(index.chunk(0).source, "notes/n0.md");
    EXPECT_EQ(index.chunk(0).title, "Notes 0");
    // Postings agree with a direct count in the chunk texts.
    const auto river = index.postings("river");
    ASSERT_FALSE(river.empty());
    for (const auto& p : river) {
        const std::string text(index.chunk(p.chunk).text);
        std::size_t n = 0;
        for (auto at = text.find("river"); at != std::string::npos;
             at = text.find("river", at + 1)) {
            ++n;
        }
        EXPECT_EQ(p.tf, n);
    }
    EXPECT_TRUE(index.postings("the").empty()) << "stop word indexed";
    EXPECT_FALSE(index.postings("école").empty()) << "case-folded term missing";
}

TEST(IndexIo, AddEqualsBuildingAtOnce) {
    test::TempDir tmp;
    std::mt19937_64 rng(test::test_seed());
    make_corpus(tmp.path() / "a", 0, 8, rng);
    make_corpus(tmp.path() / "b", 100, 5, rng);
    // All at once: a directory holding both parts, in the order --add will see them.
    fs::create_directories(tmp.path() / "all");
    fs::copy(tmp.path() / "a", tmp.path() / "all" / "1", fs::copy_options::recursive);
    fs::copy(tmp.path() / "b", tmp.path() / "all" / "2", fs::copy_options::recursive);
    fs::create_directories(tmp.path() / "inc");
    fs::copy(tmp.path() / "a", tmp.path() / "inc" / "1", fs::copy_options::recursive);

    build_index({tmp.path() / "all", tmp.path() / "idx_all", false, small_params()});
    build_index({tmp.path() / "inc", tmp.path() / "idx_inc", false, small_params()});
    fs::copy(tmp.path() / "b", tmp.path() / "inc" / "2", fs::copy_options::recursive);
    // Re-adding the whole folder skips the unchanged documents and appends the new ones.
    const auto report =
        build_index({tmp.path() / "inc", tmp.path() / "idx_inc", true, small_params()});
    EXPECT_EQ(report.documents_skipped, 9u);
    EXPECT_EQ(report.documents_added, 6u);

    const Bm25Index all = Bm25Index::load(tmp.path() / "idx_all");
    const Bm25Index inc = Bm25Index::load(tmp.path() / "idx_inc");
    EXPECT_EQ(inc.manifest().generation, 2u);
    EXPECT_EQ(manifest_to_json(all.manifest()).size(), manifest_to_json(inc.manifest()).size());
    EXPECT_EQ(all.manifest().chunks_file.checksum, inc.manifest().chunks_file.checksum);
    EXPECT_EQ(all.manifest().postings_file.checksum, inc.manifest().postings_file.checksum);
    EXPECT_EQ(read_text(tmp.path() / "idx_all" / all.manifest().postings_file.name),
              read_text(tmp.path() / "idx_inc" / inc.manifest().postings_file.name));
    // Only the new generation's files remain.
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path() / "idx_inc")) {
        ++files;
    }
    EXPECT_EQ(files, 3u);
    const auto q = random_words(6, rng);
    const auto ha = all.search(q, 10), hi = inc.search(q, 10);
    ASSERT_EQ(ha.size(), hi.size());
    for (std::size_t i = 0; i < ha.size(); ++i) {
        EXPECT_EQ(ha[i].chunk, hi[i].chunk);
        EXPECT_DOUBLE_EQ(ha[i].score, hi[i].score);
    }

    // A changed document, or other settings, are refused and leave the index as it was.
    write_text(tmp.path() / "inc" / "2" / "notes" / "n100.md", "# changed\n\nnew text");
    EXPECT_THROW(build_index({tmp.path() / "inc", tmp.path() / "idx_inc", true, small_params()}),
                 Error);
    IndexParams other = small_params();
    other.chunk.overlap = 4;
    try {
        build_index({tmp.path() / "b", tmp.path() / "idx_inc", true, other});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("overlap 4 vs 8"), std::string::npos) << e.what();
    }
    EXPECT_EQ(Bm25Index::load(tmp.path() / "idx_inc").manifest().generation, 2u);
}

class IndexErrors : public ::testing::Test {
protected:
    void SetUp() override {
        std::mt19937_64 rng(test::test_seed());
        make_corpus(tmp.path() / "docs", 0, 6, rng);
        manifest = build_index({tmp.path() / "docs", dir(), false, small_params()}).manifest;
    }

    fs::path dir() const { return tmp.path() / "idx"; }

    std::string load_error() {
        try {
            Bm25Index::load(dir());
        } catch (const Error& e) {
            return e.what();
        }
        return "(no error)";
    }

    test::TempDir tmp;
    IndexManifest manifest;
};

TEST_F(IndexErrors, VersionMismatchNamesTheManifest) {
    std::string text = read_text(dir() / "manifest.json");
    const auto at = text.find("\"version\": 2");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 12, "\"version\": 7");
    write_text(dir() / "manifest.json", text);
    const std::string err = load_error();
    EXPECT_NE(err.find("manifest.json"), std::string::npos) << err;
    EXPECT_NE(err.find("version 7"), std::string::npos) << err;
}

TEST_F(IndexErrors, TruncatedFileIsNamed) {
    for (const auto& info : {manifest.chunks_file, manifest.postings_file}) {
        const fs::path file = dir() / info.name;
        const std::string bytes = read_text(file);
        write_text(file, bytes.substr(0, bytes.size() - 17));
        const std::string err = load_error();
        EXPECT_NE(err.find(info.name), std::string::npos) << err;
        EXPECT_NE(err.find("truncated"), std::string::npos) << err;
        write_text(file, bytes);
    }
    EXPECT_EQ(load_error(), "(no error)");
}

TEST_F(IndexErrors, CorruptByteIsCaughtByTheChecksum) {
    const fs::path file = dir() / manifest.postings_file.name;
    std::string bytes = read_text(file);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
    write_text(file, bytes);
    const std::string err = load_error();
    EXPECT_NE(err.find(manifest.postings_file.name), std::string::npos) << err;
    EXPECT_NE(err.find("corrupt"), std::string::npos) << err;
}

TEST_F(IndexErrors, MissingFilesAndWrongFormat) {
    fs::remove(dir() / manifest.chunks_file.name);
    EXPECT_NE(load_error().find(manifest.chunks_file.name), std::string::npos);
    write_text(dir() / "manifest.json", "{\"format\": \"something-else\", \"version\": 1}");
    EXPECT_NE(load_error().find("not a qforge index"), std::string::npos);
    fs::remove(dir() / "manifest.json");
    EXPECT_NE(load_error().find("manifest.json"), std::string::npos);
}

TEST(Documents, JsonlErrorsNameFileAndLine) {
    test::TempDir tmp;
    auto expect_error = [&](const std::string& content, const std::string& needle) {
        write_text(tmp.path() / "c.jsonl", content);
        try {
            load_documents(tmp.path() / "c.jsonl");
            ADD_FAILURE() << "no error for " << content;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    expect_error("{\"id\":\"a\",\"text\":\"x\"}\n\n{\"id\":\"b\" \"text\":\"y\"}\n",
                 "c.jsonl:3: not valid JSON");
    expect_error("{\"id\":\"a\"}\n", "c.jsonl:1: field \"text\" is required");
    expect_error("[1,2]\n", "c.jsonl:1: expected a JSON object");
    expect_error("{\"id\":\"a\",\"text\":\"x\",\"title\":3}\n", "c.jsonl:1: field \"title\"");
    expect_error("{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"a\",\"text\":\"y\"}\n",
                 "c.jsonl:2: document id \"a\" already used by c.jsonl:1");
    expect_error("{\"id\":\"a\",\"text\":\"\xC3\x28\"}\n", "c.jsonl:1: invalid UTF-8");
    write_text(tmp.path() / "x.pdf", "binary");
    EXPECT_THROW(load_documents(tmp.path() / "x.pdf"), Error);
    EXPECT_THROW(load_documents(tmp.path() / "missing"), Error);
}

TEST(Documents, TitlesFromHeadingsOrFileNames) {
    EXPECT_EQ(find_text_title("intro\n\n## Getting started\ntext"), "Getting started");
    EXPECT_EQ(find_text_title("==========\nDesign FAQ\n==========\n\nbody"), "Design FAQ");
    EXPECT_EQ(find_text_title("Tutorial\n--------\nbody"), "Tutorial");
    EXPECT_EQ(find_text_title("#hashtag is not a heading\nplain"), "");
    test::TempDir tmp;
    write_text(tmp.path() / "sub" / "plain.rst.txt", "no heading here");
    write_text(tmp.path() / ".hidden.txt", "skipped");
    write_text(tmp.path() / "data.csv", "skipped");
    const auto docs = load_documents(tmp.path());
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(docs[0].id, "sub/plain.rst.txt");
    EXPECT_EQ(docs[0].title, "plain");
}

}  // namespace
}  // namespace qforge::rag
