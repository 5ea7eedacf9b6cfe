// What is here: the BM25 retrieval quality benchmark: recall@1/5/10 and MRR@10 over all
// 10,570 SQuAD v1.1 dev questions (gold = the question's paragraph) and the 174 Python 3.11
// FAQ questions (gold = the FAQ section holding the question and its answer), plus index
// build time and single-thread queries/s. Prints one Markdown table row per corpus.
//
//   rag_quality [--data DIR] [--tokenizer DIR|words] [--chunk-tokens N] [--overlap M]
//               [--no-stop-words] [--k1 X] [--b Y]
//
// recall@k = fraction of questions with a relevant chunk among the top k;
// MRR@10 = mean of 1/rank of the first relevant chunk (0 when none in the top 10).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "kernels/common.h"
#include "rag/bm25_index.h"
#include "rag/index_build.h"

namespace fs = std::filesystem;
using namespace qforge;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string read_file(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    QF_CHECK(in.good(), "{}: cannot open", file.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct Query {
    std::string question;
    std::function<bool(const rag::ChunkView&)> relevant;
};

struct Result {
    double recall1 = 0, recall5 = 0, recall10 = 0, mrr10 = 0, qps = 0;
};

Result evaluate(const rag::Bm25Index& index, const std::vector<Query>& queries) {
    Result r;
    std::vector<std::vector<rag::ScoredChunk>> all(queries.size());
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < queries.size(); ++i) {
        all[i] = index.search(queries[i].question, 10);
    }
    r.qps = static_cast<double>(queries.size()) / since(t0);
    for (std::size_t i = 0; i < queries.size(); ++i) {
        for (std::size_t rank = 0; rank < all[i].size(); ++rank) {
            if (queries[i].relevant(index.chunk(all[i][rank].chunk))) {
                r.recall1 += rank < 1;
                r.recall5 += rank < 5;
                r.recall10 += 1;
                r.mrr10 += 1.0 / static_cast<double>(rank + 1);
                break;
            }
        }
    }
    const double n = static_cast<double>(queries.size());
    r.recall1 /= n;
    r.recall5 /= n;
    r.recall10 /= n;
    r.mrr10 /= n;
    return r;
}

void report_row(const char* corpus, const rag::IndexBuildReport& build, double build_s,
                std::size_t n_queries, const Result& r) {
    std::printf("| %s | %zu | %llu | %zu | %.3f | %.3f | %.3f | %.3f | %.2f | %.0f |\n", corpus,
                build.documents_added,
                static_cast<unsigned long long>(build.manifest.counts.chunks), n_queries, r.recall1,
                r.recall5, r.recall10, r.mrr10, build_s, r.qps);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) try {
    fs::path data = std::getenv("QFORGE_DATA") ? std::getenv("QFORGE_DATA") : "../shared/data";
    rag::IndexParams params;
    std::string tokenizer;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            QF_CHECK(i + 1 < argc, "rag_quality: {} needs a value", a);
            return argv[++i];
        };
        if (a == "--data") {
            data = next();
        } else if (a == "--tokenizer") {
            tokenizer = next();
        } else if (a == "--chunk-tokens") {
            params.chunk.max_tokens = std::stoul(next());
        } else if (a == "--overlap") {
            params.chunk.overlap = std::stoul(next());
        } else if (a == "--no-stop-words") {
            params.stop_words = false;
        } else if (a == "--k1") {
            params.bm25.k1 = std::stod(next());
        } else if (a == "--b") {
            params.bm25.b = std::stod(next());
        } else {
            QF_FAIL("rag_quality: unknown argument {}", a);
        }
    }
    if (tokenizer.empty()) {
        tokenizer = (data / "models" / "llama2-tokenizer").string();
    }
    params.tokenizer = tokenizer == "words" ? "words" : fs::absolute(tokenizer).string();
    const fs::path work =
        fs::temp_directory_path() / ("qforge_rag_quality." + std::to_string(getpid()));
    fs::create_directories(work);

    std::printf("tokenizer %s, chunk %zu tokens, overlap %zu, stop words %s, k1 %.2f, b %.2f\n\n",
                params.tokenizer.c_str(), params.chunk.max_tokens, params.chunk.overlap,
                params.stop_words ? "english" : "none", params.bm25.k1, params.bm25.b);
    std::printf(
        "| corpus | docs | chunks | questions | R@1 | R@5 | R@10 | MRR@10 | build s | "
        "queries/s |\n|---|---|---|---|---|---|---|---|---|---|\n");

    // SQuAD v1.1 dev: one document per paragraph.
    {
        const fs::path squad = data / "datasets" / "squad-v1.1-dev";
        auto t0 = Clock::now();
        const auto build =
            rag::build_index({squad / "rag_corpus.jsonl", work / "squad", false, params});
        const double build_s = since(t0);
        const auto index = rag::Bm25Index::load(work / "squad");
        std::vector<Query> queries;
        std::ifstream in(squad / "rag_queries.jsonl");
        std::string line;
        while (std::getline(in, line)) {
            const auto j = nlohmann::json::parse(line);
            std::string gold = j.at("gold_doc");
            queries.push_back({j.at("question"), [gold](const rag::ChunkView& c) {
                                   return c.doc_id == gold;
                               }});
        }
        report_row("SQuAD v1.1 dev", build, build_s, queries.size(), evaluate(index, queries));
    }
    // Python 3.11 FAQ: relevant = a chunk of the source file overlapping the bytes from the
    // question's heading to the end of its answer.
    {
        const fs::path py = data / "datasets" / "python311-docs";
        auto t0 = Clock::now();
        const auto build = rag::build_index({py / "faq", work / "faq", false, params});
        const double build_s = since(t0);
        const auto index = rag::Bm25Index::load(work / "faq");
        std::vector<Query> queries;
        std::ifstream in(py / "faq_qa.jsonl");
        std::string line;
        std::size_t unlocated = 0;
        while (std::getline(in, line)) {
            const auto j = nlohmann::json::parse(line);
            std::string source = j.at("source");
            QF_CHECK(source.starts_with("faq/"), "faq_qa.jsonl: unexpected source {}", source);
            source = source.substr(4);
            const std::string text = read_file(py / "faq" / source);
            const std::string question = j.at("question");
            const std::string answer = j.at("answer_text");
            const auto a = text.find(answer.substr(0, std::min<std::size_t>(answer.size(), 200)));
            if (a == std::string::npos) {
                ++unlocated;
                continue;
            }
            auto q = text.rfind(question, a);
            const std::size_t begin = q == std::string::npos ? a : q;
            const std::size_t end = a + answer.size();
            queries.push_back({question, [source, begin, end](const rag::ChunkView& c) {
                                   return c.doc_id == source && c.byte_offset < end &&
                                          c.byte_offset + c.text.size() > begin;
                               }});
        }
        report_row("Python 3.11 FAQ", build, build_s, queries.size(), evaluate(index, queries));
        if (unlocated > 0) {
            std::printf("\n(%zu FAQ answers not found verbatim in their file were left out)\n",
                        unlocated);
        }
    }
    fs::remove_all(work);
    return 0;

} catch (const std::exception& e) {
    std::fprintf(stderr, "rag_quality: error: %s\n", e.what());
    return 1;
}
