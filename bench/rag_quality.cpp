// What is here: the retrieval quality benchmark: recall@1/5/10 and MRR@10 over all 10,570
// SQuAD v1.1 dev questions (gold = the question's paragraph) and the 174 Python 3.11 FAQ
// questions (gold = the FAQ section holding the question and its answer), plus index build
// time and single-thread queries/s, for BM25 and (with --encoder) dense and hybrid retrieval;
// then corrective RAG's refinement on SQuAD: how often the refined context still holds a gold
// answer, and how many context tokens it saves. Prints Markdown table rows.
//
//   rag_quality [--data DIR] [--tokenizer DIR|words] [--chunk-tokens N] [--overlap M]
//               [--no-stop-words] [--k1 X] [--b Y] [--encoder DIR [--encoder-tokenizer DIR]]
//               [--max-length N] [--crag-questions N]
//               [--model DIR [--adapter DIR] [--answer-questions N] [--answer-tokens N]]
//
// recall@k = fraction of questions with a relevant chunk among the top k;
// MRR@10 = mean of 1/rank of the first relevant chunk (0 when none in the top 10).
// CRAG: for each question, the BM25 top 5 (k = 5) vs the corrective context (lexical
// evaluator, default thresholds): "gold kept" = fraction of questions whose context contains
// one of the gold answer strings verbatim; "tokens saved" = 1 - (sum of refined context
// tokens) / (sum of top-5 context tokens), counted with --tokenizer.
// With --model: SQuAD EM/F1 (official v1.1 normalisation) of the first line of greedy answers
// to the first N questions for base alone, adapter alone, base + RAG, adapter + RAG and
// adapter + corrective RAG (k = 3; the index's best mode).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "evaluation/metrics/squad.h"
#include "kernels/common.h"
#include "rag/bm25_index.h"
#include "rag/crag.h"
#include "rag/index_build.h"
#include "rag/rag_answer.h"
#include "rag/retriever.h"

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

using SearchFn = std::function<std::vector<rag::ScoredChunk>(const std::string&)>;

Result evaluate(const rag::Bm25Index& index, const std::vector<Query>& queries,
                const SearchFn& search) {
    Result r;
    std::vector<std::vector<rag::ScoredChunk>> all(queries.size());
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < queries.size(); ++i) {
        all[i] = search(queries[i].question);
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

void report_row(const std::string& corpus, const rag::IndexBuildReport& build, double build_s,
                std::size_t n_queries, const Result& r) {
    std::printf("| %s | %zu | %llu | %zu | %.3f | %.3f | %.3f | %.3f | %.2f | %.0f |\n",
                corpus.c_str(), build.documents_added,
                static_cast<unsigned long long>(build.manifest.counts.chunks), n_queries, r.recall1,
                r.recall5, r.recall10, r.mrr10, build_s, r.qps);
    std::fflush(stdout);
}

// One row per retrieval mode the index supports: bm25; with embeddings dense, hybrid RRF and
// hybrid weighted. Build time is the whole build (BM25 and embedding) for every row.
void report_modes(const std::string& corpus, const fs::path& dir,
                  const rag::IndexBuildReport& build, double build_s,
                  const std::vector<Query>& queries) {
    const auto r = rag::Retriever::open(dir);
    report_row(
        corpus + ", bm25", build, build_s, queries.size(),
        evaluate(r.bm25(), queries, [&](const std::string& q) { return r.bm25().search(q, 10); }));
    if (!r.has_dense()) {
        return;
    }
    const std::pair<const char*, rag::RetrieveOptions> modes[] = {
        {", dense", {rag::RetrieveMode::kDense, rag::FusionMethod::kRrf, 10}},
        {", hybrid rrf", {rag::RetrieveMode::kHybrid, rag::FusionMethod::kRrf, 10}},
        {", hybrid weighted", {rag::RetrieveMode::kHybrid, rag::FusionMethod::kWeighted, 10}}};
    for (const auto& [name, o] : modes) {
        report_row(
            corpus + name, build, build_s, queries.size(),
            evaluate(r.bm25(), queries, [&](const std::string& q) { return r.search(q, o); }));
    }
}

struct SquadQuestion {
    std::string question;
    std::vector<std::string> answers;
};

bool holds_answer(const std::string& context, const std::vector<std::string>& answers) {
    return std::any_of(answers.begin(), answers.end(),
                       [&](const std::string& a) { return context.find(a) != std::string::npos; });
}

// Corrective RAG's refinement against the plain top-5 context on SQuAD.
void report_crag(const fs::path& dir, const std::vector<SquadQuestion>& questions,
                 const std::string& tokenizer) {
    const auto r = rag::Retriever::open(dir);
    const rag::LexicalEvaluator ev(r.bm25());
    const rag::TokenCounter count = rag::make_token_counter(tokenizer);
    rag::CragOptions o;
    rag::RetrieveOptions ro;
    ro.k = o.k = 5;
    std::size_t kept_plain = 0, kept_crag = 0, actions[3] = {0, 0, 0};
    double tokens_plain = 0, tokens_crag = 0;
    const auto t0 = Clock::now();
    for (const SquadQuestion& q : questions) {
        const rag::CragResult res = rag::corrective_retrieve(q.question, r, ro, ev, o);
        std::string plain, refined;
        for (const auto& h : res.retrieved) {
            plain += std::string(r.bm25().chunk(h.chunk).text) + "\n";
        }
        for (const auto& p : res.passages) {
            refined += p.text + "\n";
        }
        kept_plain += holds_answer(plain, q.answers);
        kept_crag += holds_answer(refined, q.answers);
        tokens_plain += static_cast<double>(count(plain));
        tokens_crag += static_cast<double>(count(refined));
        ++actions[static_cast<int>(res.action)];
    }
    const double secs = since(t0);
    const double n = static_cast<double>(questions.size());
    std::printf(
        "\n| CRAG on SQuAD (BM25 top 5, lexical evaluator, upper %.2f, lower %.2f, strip_min "
        "%.2f) | questions | correct | ambiguous | incorrect | gold in top-5 context | gold in "
        "refined context | context tokens saved | questions/s |\n|---|---|---|---|---|---|---|---|"
        "---|\n| | %zu | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.0f |\n",
        o.upper, o.lower, o.strip_min, questions.size(),
        100.0 * static_cast<double>(actions[0]) / n, 100.0 * static_cast<double>(actions[2]) / n,
        100.0 * static_cast<double>(actions[1]) / n, 100.0 * static_cast<double>(kept_plain) / n,
        100.0 * static_cast<double>(kept_crag) / n, 100.0 * (1.0 - tokens_crag / tokens_plain),
        n / secs);
}

// The first line of `text`, trimmed.
std::string first_line(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    const auto b = line.find_first_not_of(" \t");
    const auto e = line.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : line.substr(b, e - b + 1);
}

struct AnswerBench {
    fs::path model, adapter;
    std::size_t questions = 100;
    int64_t tokens = 32;
};

// End-to-end answers on SQuAD questions: EM/F1 per system (see the file comment).
void report_answers(const fs::path& dir, const std::vector<SquadQuestion>& all,
                    const AnswerBench& ab) {
    const auto r = rag::Retriever::open(dir);
    const Tokenizer tok = Tokenizer::load(ab.model);
    const LlamaModel model = LlamaModel::load(ab.model);
    std::optional<LoraAdapter> adapter;
    if (!ab.adapter.empty()) {
        adapter = LoraAdapter::load_peft(ab.adapter, model.config());
    }
    const std::vector<SquadQuestion> qs(
        all.begin(), all.begin() + static_cast<std::ptrdiff_t>(std::min(ab.questions, all.size())));
    std::vector<std::vector<std::string>> gold;
    for (const auto& q : qs) {
        gold.push_back(q.answers);
    }
    std::printf(
        "\n| system (%s, greedy, %lld new tokens, first line) | questions | EM | F1 | s |\n"
        "|---|---|---|---|---|\n",
        ab.model.filename().string().c_str(), static_cast<long long>(ab.tokens));
    auto run = [&](const char* name, const LoraAdapter* a, int rag_kind) {
        const auto t0 = Clock::now();
        std::vector<std::string> pred;
        for (const auto& q : qs) {
            std::string text;
            if (rag_kind == 0) {
                GenerateOptions g;
                g.max_new_tokens = ab.tokens;
                g.adapter = a;
                g.stop_ids = model.config().eos_token_ids;
                const auto ids = tok.encode("Question: " + q.question + "\nAnswer:", true);
                text = tok.decode(generate(model, ids, g).tokens, true);
            } else {
                rag::RagAnswerOptions o;
                o.retrieve.mode =
                    r.has_dense() ? rag::RetrieveMode::kHybrid : rag::RetrieveMode::kBm25;
                o.retrieve.k = 3;
                o.corrective = rag_kind == 2;
                o.max_new_tokens = ab.tokens;
                text = rag::answer_question(q.question, r, model, tok, a, o).answer;
            }
            pred.push_back(first_line(text));
        }
        const auto score = eval::squad_corpus(pred, gold);
        std::printf("| %s | %zu | %.1f | %.1f | %.1f |\n", name, qs.size(), score.exact_match,
                    score.f1, since(t0));
        std::fflush(stdout);
    };
    run("base alone", nullptr, 0);
    if (adapter) {
        run("adapter alone", &*adapter, 0);
    }
    run("base + RAG", nullptr, 1);
    if (adapter) {
        run("adapter + RAG", &*adapter, 1);
        run("adapter + corrective RAG", &*adapter, 2);
    } else {
        run("base + corrective RAG", nullptr, 2);
    }
}

}  // namespace

int main(int argc, char** argv) try {
    fs::path data = std::getenv("QFORGE_DATA") ? std::getenv("QFORGE_DATA") : "../shared/data";
    rag::IndexParams params;
    std::string tokenizer;
    std::size_t crag_questions = 0;  // 0 = all
    AnswerBench answers;
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
        } else if (a == "--encoder") {
            params.dense.emplace();
            params.dense->encoder = fs::absolute(next()).string();
        } else if (a == "--encoder-tokenizer") {
            QF_CHECK(params.dense, "rag_quality: --encoder-tokenizer after --encoder");
            params.dense->tokenizer = fs::absolute(next()).string();
        } else if (a == "--max-length") {
            QF_CHECK(params.dense, "rag_quality: --max-length after --encoder");
            params.dense->max_length = std::stoul(next());
        } else if (a == "--model") {
            answers.model = next();
        } else if (a == "--adapter") {
            answers.adapter = next();
        } else if (a == "--answer-questions") {
            answers.questions = std::stoul(next());
        } else if (a == "--answer-tokens") {
            answers.tokens = std::stol(next());
        } else if (a == "--crag-questions") {
            crag_questions = std::stoul(next());
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

    std::printf("tokenizer %s, chunk %zu tokens, overlap %zu, stop words %s, k1 %.2f, b %.2f\n",
                params.tokenizer.c_str(), params.chunk.max_tokens, params.chunk.overlap,
                params.stop_words ? "english" : "none", params.bm25.k1, params.bm25.b);
    if (params.dense) {
        std::printf("encoder %s (%s pooling, max_length %zu, exact search)\n",
                    params.dense->encoder.c_str(), params.dense->pooling.c_str(),
                    params.dense->max_length);
    }
    std::printf("\n");
    std::printf(
        "| corpus | docs | chunks | questions | R@1 | R@5 | R@10 | MRR@10 | build s | "
        "queries/s |\n|---|---|---|---|---|---|---|---|---|---|\n");

    // SQuAD v1.1 dev: one document per paragraph.
    std::vector<SquadQuestion> with_answers;
    {
        const fs::path squad = data / "datasets" / "squad-v1.1-dev";
        auto t0 = Clock::now();
        const auto build =
            rag::build_index({squad / "rag_corpus.jsonl", work / "squad", false, params});
        const double build_s = since(t0);
        std::vector<Query> queries;
        std::ifstream in(squad / "rag_queries.jsonl");
        std::string line;
        while (std::getline(in, line)) {
            const auto j = nlohmann::json::parse(line);
            std::string gold = j.at("gold_doc");
            queries.push_back({j.at("question"), [gold](const rag::ChunkView& c) {
                                   return c.doc_id == gold;
                               }});
            with_answers.push_back({j.at("question"), j.at("answers")});
        }
        report_modes("SQuAD v1.1 dev", work / "squad", build, build_s, queries);
    }
    // Python 3.11 FAQ: relevant = a chunk of the source file overlapping the bytes from the
    // question's heading to the end of its answer.
    {
        const fs::path py = data / "datasets" / "python311-docs";
        auto t0 = Clock::now();
        const auto build = rag::build_index({py / "faq", work / "faq", false, params});
        const double build_s = since(t0);
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
        report_modes("Python 3.11 FAQ", work / "faq", build, build_s, queries);
        if (unlocated > 0) {
            std::printf("\n(%zu FAQ answers not found verbatim in their file were left out)\n",
                        unlocated);
        }
    }
    if (crag_questions > 0 && crag_questions < with_answers.size()) {
        with_answers.resize(crag_questions);
    }
    report_crag(work / "squad", with_answers, params.tokenizer);
    if (!answers.model.empty()) {
        report_answers(work / "squad", with_answers, answers);
    }
    fs::remove_all(work);
    return 0;

} catch (const std::exception& e) {
    std::fprintf(stderr, "rag_quality: error: %s\n", e.what());
    return 1;
}
