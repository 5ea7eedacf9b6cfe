// What is here: the whole `qforge index` job as a library call: load documents, chunk them
// by tokens, analyse them (BM25), embed them (dense, optionally spread over MPI ranks) and
// write (or --add to) an on-disk index.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "rag/chunker.h"
#include "rag/index_format.h"
#include "runtime/train/collective.h"

namespace qforge::rag {

struct IndexBuildOptions {
    std::filesystem::path docs;  // directory or file (see load_documents)
    std::filesystem::path out;   // index directory
    bool add = false;            // append to the index in `out` instead of replacing it
    IndexParams params;          // with add: must equal the existing index's
    // With params.dense: "auto" stores an HNSW graph from kHnswAutoMinChunks chunks on (and
    // keeps an existing one), "exact" none, "hnsw" always.
    std::string ann = "auto";
    // Spreads chunk embedding over the ranks of a job (nullptr: this process alone). Every
    // rank calls build_index with the same options; only rank 0 writes the index.
    train::Collective* collective = nullptr;
};

struct IndexBuildReport {
    std::size_t documents_loaded = 0;
    std::size_t documents_added = 0;
    std::size_t documents_skipped = 0;  // --add: already in the index, unchanged
    std::size_t chunks_added = 0;
    IndexManifest manifest;
    std::size_t chunks_embedded = 0;  // by all ranks together
    double load_seconds = 0, chunk_seconds = 0, embed_seconds = 0, write_seconds = 0;
};

// Progress of one phase: (phase, done, total); phase is "chunking documents" (documents) or
// "embedding chunks" (chunks of this rank).
using IndexProgress = std::function<void(std::string_view, std::size_t, std::size_t)>;

// A TokenCounter for params.tokenizer: "words" (count_words), a WordPiece (BERT-family)
// tokenizer directory or tokenizer.json, or any other tokenizer qforge::Tokenizer loads.
TokenCounter make_token_counter(const std::string& tokenizer);

// "" when equal, else which setting differs ("chunk_tokens 256 vs 128", "encoder ..."). The
// dense `ann` setting is not compared: --add may add or drop the HNSW graph.
std::string index_params_difference(const IndexParams& a, const IndexParams& b);

// With add, options.params must equal the existing index's (else a qforge::Error naming the
// differing setting; read the manifest first to reuse them). A document already in the index
// is skipped when unchanged and an error when changed. With a collective of several ranks,
// the manifest of rank 0's write is returned on rank 0; other ranks return the counts only.
IndexBuildReport build_index(const IndexBuildOptions& options, const IndexProgress& progress = {});

}  // namespace qforge::rag
