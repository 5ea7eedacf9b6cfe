// What is here: `qforge retrieve`: rank the chunks of an index for one query (BM25, dense or
// hybrid) and print them with scores and sources.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "kernels/common.h"
#include "launcher/commands.h"
#include "rag/retriever.h"

namespace qforge::launcher {

namespace {

struct RetrieveArgs {
    std::string index;
    std::string query;
    std::size_t k = 5;
    std::string mode = "bm25";
    std::string fusion = "rrf";
    double bm25_weight = 0.5;
    std::size_t candidates = 50;
    std::string ann = "auto";
    std::size_t ef = 64;
    std::string encoder;
    std::size_t max_chars = 400;
};

// The first `max_chars` bytes of `text`, cut back to a UTF-8 character boundary.
std::string preview(std::string_view text, std::size_t max_chars) {
    if (max_chars == 0 || text.size() <= max_chars) {
        return std::string(text);
    }
    std::size_t end = max_chars;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;
    }
    return std::string(text.substr(0, end)) + " ...";
}

void run_retrieve(const RetrieveArgs& args) {
    rag::RetrieveOptions o;
    o.mode = rag::parse_retrieve_mode(args.mode, "retrieve --mode");
    o.fusion = rag::parse_fusion(args.fusion, "retrieve --fusion");
    o.k = args.k;
    o.candidates = args.candidates;
    o.bm25_weight = args.bm25_weight;
    o.ann = rag::parse_ann_mode(args.ann, "retrieve --ann");
    o.ef = args.ef;
    const rag::Retriever retriever = rag::Retriever::open(args.index, args.encoder);
    const rag::Bm25Index& index = retriever.bm25();
    const auto hits = retriever.search(args.query, o);
    if (hits.empty()) {
        std::printf(o.mode == rag::RetrieveMode::kBm25
                        ? "no chunk of %s shares a term with the query\n"
                        : "the index %s holds no chunks\n",
                    args.index.c_str());
        return;
    }
    for (std::size_t i = 0; i < hits.size(); ++i) {
        const rag::ChunkView c = index.chunk(hits[i].chunk);
        std::printf("%zu. score %.4f  %.*s  [%.*s, byte %llu]  %.*s\n", i + 1, hits[i].score,
                    static_cast<int>(c.doc_id.size()), c.doc_id.data(),
                    static_cast<int>(c.source.size()), c.source.data(),
                    static_cast<unsigned long long>(c.byte_offset),
                    static_cast<int>(c.title.size()), c.title.data());
        std::string text = preview(c.text, args.max_chars);
        for (auto& ch : text) {
            ch = ch == '\n' ? ' ' : ch;
        }
        std::printf("   %s\n", text.c_str());
    }
}

}  // namespace

void register_retrieve(CLI::App& app) {
    static RetrieveArgs args;
    auto* sub = app.add_subcommand("retrieve", "Rank the chunks of an index for a query");
    sub->add_option("--index", args.index, "Index directory (from `qforge index`)")
        ->required()
        ->check(CLI::ExistingDirectory);
    sub->add_option("--query", args.query, "The query text")->required();
    sub->add_option("-k,--top-k", args.k, "How many chunks to print")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
    sub->add_option("--mode", args.mode, "bm25 | dense | hybrid")
        ->capture_default_str()
        ->check(CLI::IsMember({"bm25", "dense", "hybrid"}));
    sub->add_option("--fusion", args.fusion,
                    "Hybrid: rrf (reciprocal rank fusion, k=60) | weighted (min-max normalised "
                    "scores)")
        ->capture_default_str()
        ->check(CLI::IsMember({"rrf", "weighted"}));
    sub->add_option("--bm25-weight", args.bm25_weight,
                    "Weighted fusion: BM25's weight; dense gets 1 minus it")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    sub->add_option("--candidates", args.candidates,
                    "Hybrid: chunks each retriever contributes before fusion (at least -k)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
    sub->add_option("--ann", args.ann,
                    "Dense search: auto (the index's HNSW graph if it has one) | exact | hnsw")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "exact", "hnsw"}));
    sub->add_option("--ef", args.ef, "HNSW search breadth (higher: better recall, slower)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
    sub->add_option("--encoder", args.encoder,
                    "Encoder directory for dense queries (default: the one the index was built "
                    "with)")
        ->check(CLI::ExistingDirectory);
    sub->add_option("--max-chars", args.max_chars, "Chunk text shown per hit (0: all)")
        ->capture_default_str();
    add_command(app, sub, [] { run_retrieve(args); });
}

}  // namespace qforge::launcher
