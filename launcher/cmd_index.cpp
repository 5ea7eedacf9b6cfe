// What is here: `qforge index`: build (or --add to) an on-disk retrieval index (BM25, plus
// dense embeddings with --encoder) from a directory of .txt/.md/.jsonl documents, chunked by
// tokens, with a progress bar. Under mpirun the ranks share the embedding; rank 0 writes.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "kernels/common.h"
#include "launcher/abort_on_error.h"
#include "launcher/commands.h"
#include "launcher/progress.h"
#include "parallel/mpi_collective.h"
#include "rag/index_build.h"
#include "rag/index_format.h"

namespace qforge::launcher {

namespace {

struct IndexArgs {
    std::string docs;
    std::string out;
    bool add = false;
    std::size_t chunk_tokens = 256;
    std::size_t overlap = 32;
    std::string tokenizer;
    double k1 = 1.2;
    double b = 0.75;
    bool no_stop_words = false;
    std::string encoder;
    std::string encoder_tokenizer;
    std::string pooling = "mean";
    std::size_t max_length = 256;
    std::string ann = "auto";
    std::size_t hnsw_m = 16;
    std::size_t hnsw_ef_construction = 200;
    bool quiet = false;
};

std::string absolute_path(const std::string& path) {
    return std::filesystem::absolute(path).lexically_normal().string();
}

rag::IndexManifest read_manifest(const std::filesystem::path& dir) {
    const auto path = dir / rag::kManifestFile;
    std::ifstream in(path, std::ios::binary);
    QF_CHECK(in.good(), "index --add: {}: cannot open; is --out an existing index?", path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return rag::manifest_from_json(text.str(), path.string());
}

rag::IndexBuildReport run_index_job(const IndexArgs& args, const CLI::App& sub,
                                    train::Collective* collective) {
    const bool lead = collective == nullptr || collective->rank() == 0;
    rag::IndexBuildOptions options;
    options.docs = args.docs;
    options.out = args.out;
    options.add = args.add;
    options.ann = args.ann;
    options.collective = collective;
    rag::IndexParams& p = options.params;
    if (args.add) {
        // Settings not given on the command line come from the existing index.
        p = read_manifest(options.out).params;
    }
    auto given = [&](const char* name) {
        return !args.add || sub.count(name) > 0;
    };
    if (given("--chunk-tokens")) {
        p.chunk.max_tokens = args.chunk_tokens;
    }
    if (given("--overlap")) {
        p.chunk.overlap = args.overlap;
    }
    if (given("--tokenizer")) {
        p.tokenizer = args.tokenizer.empty()
                          ? "words"
                          : std::filesystem::absolute(args.tokenizer).lexically_normal().string();
    }
    if (given("--k1")) {
        p.bm25.k1 = args.k1;
    }
    if (given("--b")) {
        p.bm25.b = args.b;
    }
    if (given("--no-stop-words")) {
        p.stop_words = !args.no_stop_words;
    }
    if (given("--encoder")) {
        if (args.encoder.empty()) {
            p.dense.reset();
        } else {
            p.dense.emplace();
            p.dense->encoder = absolute_path(args.encoder);
        }
    }
    QF_CHECK(p.dense || (sub.count("--encoder-tokenizer") == 0 && sub.count("--pooling") == 0 &&
                         sub.count("--max-length") == 0 && sub.count("--hnsw-m") == 0 &&
                         sub.count("--hnsw-ef-construction") == 0 && args.ann == "auto"),
             "index: --encoder-tokenizer, --pooling, --max-length, --ann and --hnsw-* need "
             "--encoder DIR (dense embeddings){}",
             args.add ? " or an index that has them" : "");
    if (p.dense) {
        rag::DenseParams& d = *p.dense;
        if (given("--encoder-tokenizer")) {
            d.tokenizer =
                args.encoder_tokenizer.empty() ? "" : absolute_path(args.encoder_tokenizer);
        }
        if (given("--pooling")) {
            d.pooling = args.pooling;
        }
        if (given("--max-length")) {
            d.max_length = args.max_length;
        }
        if (given("--hnsw-m")) {
            d.hnsw_m = args.hnsw_m;
        }
        if (given("--hnsw-ef-construction")) {
            d.hnsw_ef_construction = args.hnsw_ef_construction;
        }
    }
    QF_CHECK(p.chunk.overlap < p.chunk.max_tokens,
             "index: --overlap ({}) must be smaller than --chunk-tokens ({})", p.chunk.overlap,
             p.chunk.max_tokens);

    std::FILE* out = args.quiet || !lead ? nullptr : stderr;
    std::optional<ProgressBar> bar;  // one per phase, made once its total is known
    std::string phase;
    const auto report =
        rag::build_index(options, [&](std::string_view name, std::size_t done, std::size_t total) {
            if (!bar || phase != name) {
                if (bar) {
                    bar->finish();
                }
                phase = std::string(name);
                bar.emplace(phase, static_cast<int64_t>(total), out);
            }
            bar->update(static_cast<int64_t>(done));
        });
    if (bar) {
        bar->finish();
    }
    if (!lead) {
        return report;
    }
    const auto& c = report.manifest.counts;
    std::printf(
        "%s index %s: %zu documents added (%zu unchanged skipped), %zu chunks added; now %llu "
        "documents, %llu chunks, %llu terms (generation %llu)\n",
        args.add ? "updated" : "wrote", args.out.c_str(), report.documents_added,
        report.documents_skipped, report.chunks_added, static_cast<unsigned long long>(c.documents),
        static_cast<unsigned long long>(c.chunks), static_cast<unsigned long long>(c.terms),
        static_cast<unsigned long long>(report.manifest.generation));
    if (report.manifest.params.dense) {
        std::printf("dense: %zu chunks embedded (%llu-d, %s pooling, %d rank(s)), search: %s\n",
                    report.chunks_embedded, static_cast<unsigned long long>(c.dim),
                    report.manifest.params.dense->pooling.c_str(),
                    collective ? collective->world() : 1,
                    report.manifest.hnsw_file ? "hnsw" : "exact");
    }
    if (!args.quiet) {
        std::fprintf(
            stderr, "[qforge] load %.2f s, chunk+analyse %.2f s, embed %.2f s, write %.2f s\n",
            report.load_seconds, report.chunk_seconds, report.embed_seconds, report.write_seconds);
    }
    return report;
}

void run_index(const IndexArgs& args, const CLI::App& sub) {
    std::optional<parallel::MpiSession> mpi;
    std::unique_ptr<parallel::MpiCollective> coll;
    if (parallel::launched_by_mpi()) {
        mpi.emplace(nullptr, nullptr);
        coll = std::make_unique<parallel::MpiCollective>();
    }
    run_or_abort_job(coll && coll->world() > 1, [&] { run_index_job(args, sub, coll.get()); });
}

}  // namespace

void register_index(CLI::App& app) {
    static IndexArgs args;
    auto* sub = app.add_subcommand(
        "index", "Build a retrieval index (BM25; dense too with --encoder) from documents");
    sub->add_option("--docs", args.docs, "Directory of .txt/.md/.jsonl files, or one such file")
        ->required()
        ->check(CLI::ExistingPath);
    sub->add_option("--out", args.out, "Index directory (created; replaced unless --add)")
        ->required();
    sub->add_flag("--add", args.add,
                  "Append documents not yet in the index in --out (unchanged ones are skipped)");
    sub->add_option("--chunk-tokens", args.chunk_tokens, "Most tokens per chunk")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
    sub->add_option("--overlap", args.overlap, "Tokens a chunk repeats from the previous one")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
    sub->add_option("--tokenizer", args.tokenizer,
                    "Tokenizer directory (tokenizer.json) to count tokens with; default: words")
        ->check(CLI::ExistingPath);
    sub->add_option("--k1", args.k1, "BM25 k1")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 100.0));
    sub->add_option("--b", args.b, "BM25 b")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    sub->add_flag("--no-stop-words", args.no_stop_words, "Index English stop words too");
    sub->add_option("--encoder", args.encoder,
                    "BERT-family sentence encoder directory (config.json, *.safetensors, "
                    "tokenizer): also store dense embeddings of every chunk")
        ->check(CLI::ExistingDirectory);
    sub->add_option("--encoder-tokenizer", args.encoder_tokenizer,
                    "WordPiece tokenizer directory of the encoder (default: --encoder)")
        ->check(CLI::ExistingPath);
    sub->add_option("--pooling", args.pooling, "Sentence pooling: mean | cls")
        ->capture_default_str()
        ->check(CLI::IsMember({"mean", "cls"}));
    sub->add_option("--max-length", args.max_length,
                    "Encoder ids per chunk, [CLS]/[SEP] included (longer chunks are truncated)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{2}, std::size_t{1} << 16));
    sub->add_option("--ann", args.ann,
                    "Dense search structure: auto (HNSW from 200000 chunks on) | exact | hnsw")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "exact", "hnsw"}));
    sub->add_option("--hnsw-m", args.hnsw_m, "HNSW links per node")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{2}, std::size_t{512}));
    sub->add_option("--hnsw-ef-construction", args.hnsw_ef_construction,
                    "HNSW candidate list size while building")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 16));
    sub->add_flag("-q,--quiet", args.quiet, "No progress bar or timings");
    add_command(app, sub, [sub] { run_index(args, *sub); });
}

}  // namespace qforge::launcher
