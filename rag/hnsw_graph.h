// What is here: HnswGraph, approximate inner-product search over the index's embeddings with
// hnswlib (Malkov & Yashunin's HNSW), kept behind a pimpl so hnswlib stays out of headers.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "rag/dense_search.h"
#include "rag/fusion.h"
#include "rag/index_format.h"

namespace qforge::rag {

struct HnswBuildParams {
    std::size_t m = 16;                 // links per node (2M on the base layer)
    std::size_t ef_construction = 200;  // candidate list size while inserting
};

class HnswGraph {
public:
    HnswGraph();
    ~HnswGraph();
    HnswGraph(HnswGraph&&) noexcept;
    HnswGraph& operator=(HnswGraph&&) noexcept;

    // A graph over rows [0, m.rows) of `m`, labelled by row (= chunk id), inserted in order
    // on one thread (so the same rows give the same graph).
    static HnswGraph build(const EmbeddingMatrix& m, const HnswBuildParams& params);

    // Loads a graph written by save() for `dim`-d vectors (hnswlib's own file layout; the
    // caller has checked its size and checksum against the manifest). `capacity` >= its size
    // leaves room for extend(). Errors name the file.
    static HnswGraph load(const std::filesystem::path& file, std::size_t dim,
                          std::size_t capacity = 0);

    // Inserts rows [size(), m.rows) of `m` (the chunks --add appended).
    void extend(const EmbeddingMatrix& m);

    // Writes the graph to `file` atomically (temp file, fsync, rename, fsync of the directory)
    // and returns its manifest entry: name, size and the FNV-1a 64 of the whole file.
    IndexFileInfo save(const std::filesystem::path& file) const;

    std::size_t size() const;
    std::size_t dim() const;

    // The k nearest rows by inner product, best first (ties by chunk id); score = inner
    // product. ef (>= k; raised to k when smaller) trades speed for recall.
    std::vector<ScoredChunk> search(std::span<const float> query, std::size_t k,
                                    std::size_t ef) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace qforge::rag
