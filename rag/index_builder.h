// What is here: IndexBuilder, the in-memory side of the index: documents are chunked and
// analysed into it (BM25), chunk embeddings appended (dense), then it is written as an
// on-disk index (atomically, new generation).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "rag/chunker.h"
#include "rag/document.h"
#include "rag/index_format.h"

namespace qforge::rag {

class Bm25Index;
class DenseIndex;

class IndexBuilder {
public:
    explicit IndexBuilder(IndexParams params);

    // Starts from everything in `index` and its dense part (for --add; `dense` is required
    // when the index has one); the next write is generation + 1. An HNSW graph of the old
    // index is extended by write() instead of being built again.
    static IndexBuilder from_index(const Bm25Index& index, const DenseIndex* dense = nullptr);

    const IndexParams& params() const { return params_; }

    // Whether a document with this id is already in; its content hash when it is.
    bool has_document(const std::string& id, std::uint64_t* content_hash = nullptr) const;

    // Adds one document cut into `spans` of its text (chunk_text's output). A duplicate id is
    // a qforge::Error naming both sources.
    void add_document(const Document& doc, const std::vector<TextSpan>& spans);

    std::size_t num_documents() const { return docs_.size(); }

    std::size_t num_chunks() const { return chunks_.size(); }

    // The text of chunk i (to embed it).
    const std::string& chunk_text(std::size_t i) const { return chunks_.at(i).text; }

    // Chunks that have an embedding: the first num_embedded() chunks.
    std::size_t num_embedded() const { return dim_ == 0 ? 0 : embeddings_.size() / dim_; }

    // Appends row-major embeddings of chunks [num_embedded(), num_embedded() + rows) of
    // `dim` floats each (an index with params().dense only; dim must not change).
    void add_embeddings(const std::vector<float>& rows, std::size_t dim);

    // Whether write() stores an HNSW graph ("exact" / "hnsw"; with params().dense).
    void set_ann(const std::string& ann);

    // Writes chunks-<gen>.bin, postings-<gen>.bin (and with a dense part embeddings-<gen>.bin
    // and, for ann "hnsw", hnsw-<gen>.bin), then manifest.json (each atomically), then removes
    // the previous generation's files: a crash at any point leaves either the old or the new
    // index loadable. A dense index needs an embedding for every chunk. Returns the manifest.
    IndexManifest write(const std::filesystem::path& dir) const;

private:
    struct DocEntry {
        std::string id, title, source;
        std::uint64_t content_hash = 0;
    };

    struct ChunkEntry {
        std::uint32_t doc = 0;
        std::uint64_t byte_offset = 0;
        std::uint32_t num_terms = 0;
        std::string text;
    };

    IndexParams params_;
    std::uint64_t generation_ = 0;  // of the index this builder was loaded from
    std::vector<DocEntry> docs_;
    std::unordered_map<std::string, std::uint32_t> doc_by_id_;
    std::vector<ChunkEntry> chunks_;
    std::map<std::string, std::vector<Posting>> postings_;  // sorted by term
    std::uint64_t total_terms_ = 0;
    std::size_t dim_ = 0;
    std::vector<float> embeddings_;   // num_embedded() x dim_, row-major
    std::filesystem::path old_hnsw_;  // the loaded index's graph file, to extend
};

}  // namespace qforge::rag
