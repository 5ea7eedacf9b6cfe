// What is here: the whole `qforge index` job as a library call: load documents, chunk them
// by tokens, analyse and write (or --add to) an on-disk BM25 index.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

#include "rag/chunker.h"
#include "rag/index_format.h"

namespace qforge::rag {

struct IndexBuildOptions {
    std::filesystem::path docs;  // directory or file (see load_documents)
    std::filesystem::path out;   // index directory
    bool add = false;            // append to the index in `out` instead of replacing it
    IndexParams params;          // with add: must equal the existing index's
};

struct IndexBuildReport {
    std::size_t documents_loaded = 0;
    std::size_t documents_added = 0;
    std::size_t documents_skipped = 0;  // --add: already in the index, unchanged
    std::size_t chunks_added = 0;
    IndexManifest manifest;
    double load_seconds = 0, chunk_seconds = 0, write_seconds = 0;
};

// Called after each document is chunked: (documents done, documents total).
using IndexProgress = std::function<void(std::size_t, std::size_t)>;

// A TokenCounter for params.tokenizer: "words" (count_words), a WordPiece (BERT-family)
// tokenizer directory or tokenizer.json, or any other tokenizer qforge::Tokenizer loads.
TokenCounter make_token_counter(const std::string& tokenizer);

// "" when equal, else which setting differs ("chunk_tokens 256 vs 128").
std::string index_params_difference(const IndexParams& a, const IndexParams& b);

// With add, options.params must equal the existing index's (else a qforge::Error naming the
// differing setting; read the manifest first to reuse them). A document already in the index
// is skipped when unchanged and an error when changed.
IndexBuildReport build_index(const IndexBuildOptions& options, const IndexProgress& progress = {});

}  // namespace qforge::rag
