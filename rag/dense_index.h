// What is here: DenseIndex, the dense half of a loaded index: the memory-mapped chunk
// embeddings (embeddings-<gen>.bin) and, when the index has one, its HNSW graph; exact or
// approximate inner-product top-k over them.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rag/dense_search.h"
#include "rag/fusion.h"
#include "rag/hnsw_graph.h"
#include "rag/index_format.h"
#include "rag/mapped_file.h"

namespace qforge::rag {

// Which search a dense query uses: auto = the HNSW graph when the index has one, else exact.
enum class AnnMode { kAuto, kExact, kHnsw };

// "auto" | "exact" | "hnsw"; anything else is a qforge::Error naming `where`.
AnnMode parse_ann_mode(const std::string& text, const std::string& where);

// The number of chunks from which `qforge index --ann auto` stores an HNSW graph: below it,
// exact search over every vector is fast enough (77M multiply-adds per query for 200k x 384,
// tens of milliseconds on one core) and has perfect recall.
inline constexpr std::size_t kHnswAutoMinChunks = 200'000;

class DenseIndex {
public:
    // The dense part of the index in `dir` described by `manifest` (which must have one).
    // Size, header and checksum of every file are checked; errors name the file.
    static DenseIndex load(const std::filesystem::path& dir, const IndexManifest& manifest);

    const EmbeddingMatrix& matrix() const { return matrix_; }

    std::size_t size() const { return matrix_.rows; }

    std::size_t dim() const { return matrix_.dim; }

    bool has_hnsw() const { return hnsw_.has_value(); }

    const HnswGraph* hnsw() const { return hnsw_ ? &*hnsw_ : nullptr; }

    // Top k chunks for an embedded query (dim() floats), best first; score = inner product
    // (recomputed exactly for HNSW hits). kHnsw on an index without a graph is an error.
    std::vector<ScoredChunk> search(std::span<const float> query, std::size_t k,
                                    AnnMode mode = AnnMode::kAuto, std::size_t ef = 64) const;

private:
    MappedFile embeddings_map_;
    EmbeddingMatrix matrix_;
    std::optional<HnswGraph> hnsw_;
    std::filesystem::path dir_;
};

// Payload of embeddings-<gen>.bin: u64 rows, u64 dim, then rows x dim f32 (row-major).
std::string embeddings_payload(std::span<const float> data, std::size_t dim);

}  // namespace qforge::rag
