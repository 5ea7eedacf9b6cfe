// What is here: `qforge index`: build (or --add to) an on-disk BM25 index from a directory of
// .txt/.md/.jsonl documents, chunked by tokens, with a progress bar.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "kernels/common.h"
#include "launcher/commands.h"
#include "launcher/progress.h"
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
    bool quiet = false;
};

rag::IndexManifest read_manifest(const std::filesystem::path& dir) {
    const auto path = dir / rag::kManifestFile;
    std::ifstream in(path, std::ios::binary);
    QF_CHECK(in.good(), "index --add: {}: cannot open; is --out an existing index?", path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return rag::manifest_from_json(text.str(), path.string());
}

void run_index(const IndexArgs& args, const CLI::App& sub) {
    rag::IndexBuildOptions options;
    options.docs = args.docs;
    options.out = args.out;
    options.add = args.add;
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
    QF_CHECK(p.chunk.overlap < p.chunk.max_tokens,
             "index: --overlap ({}) must be smaller than --chunk-tokens ({})", p.chunk.overlap,
             p.chunk.max_tokens);

    std::FILE* out = args.quiet ? nullptr : stderr;
    std::optional<ProgressBar> bar;  // made once the documents are loaded and counted
    const auto report = rag::build_index(options, [&](std::size_t done, std::size_t total) {
        if (!bar) {
            bar.emplace("indexing documents", static_cast<int64_t>(total), out);
        }
        bar->update(static_cast<int64_t>(done));
    });
    if (bar) {
        bar->finish();
    }
    const auto& c = report.manifest.counts;
    std::printf(
        "%s index %s: %zu documents added (%zu unchanged skipped), %zu chunks added; now %llu "
        "documents, %llu chunks, %llu terms (generation %llu)\n",
        args.add ? "updated" : "wrote", args.out.c_str(), report.documents_added,
        report.documents_skipped, report.chunks_added, static_cast<unsigned long long>(c.documents),
        static_cast<unsigned long long>(c.chunks), static_cast<unsigned long long>(c.terms),
        static_cast<unsigned long long>(report.manifest.generation));
    if (!args.quiet) {
        std::fprintf(stderr, "[qforge] load %.2f s, chunk+analyse %.2f s, write %.2f s\n",
                     report.load_seconds, report.chunk_seconds, report.write_seconds);
    }
}

}  // namespace

void register_index(CLI::App& app) {
    static IndexArgs args;
    auto* sub = app.add_subcommand("index", "Build a BM25 retrieval index from documents");
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
    sub->add_flag("-q,--quiet", args.quiet, "No progress bar or timings");
    add_command(app, sub, [sub] { run_index(args, *sub); });
}

}  // namespace qforge::launcher
