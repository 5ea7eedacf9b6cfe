// What is here: Retriever, one loaded index answering queries in three modes: BM25, dense
// (the encoder named in the index embeds the query) and hybrid (both lists fused by RRF or
// weighted normalised scores).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rag/bm25_index.h"
#include "rag/chunk_embedder.h"
#include "rag/dense_index.h"
#include "rag/fusion.h"

namespace qforge::rag {

enum class RetrieveMode { kBm25, kDense, kHybrid };
enum class FusionMethod { kRrf, kWeighted };

// "bm25" | "dense" | "hybrid", "rrf" | "weighted"; else a qforge::Error naming `where`.
RetrieveMode parse_retrieve_mode(const std::string& text, const std::string& where);
FusionMethod parse_fusion(const std::string& text, const std::string& where);

struct RetrieveOptions {
    RetrieveMode mode = RetrieveMode::kBm25;
    FusionMethod fusion = FusionMethod::kRrf;
    std::size_t k = 5;
    // Hybrid: each retriever's list is cut to max(k, candidates) before fusion.
    std::size_t candidates = 50;
    double rrf_k = 60.0;
    double bm25_weight = 0.5;  // weighted fusion: BM25 weight; dense gets 1 - bm25_weight
    AnnMode ann = AnnMode::kAuto;
    std::size_t ef = 64;  // HNSW search breadth (raised to the list length when smaller)
};

class Retriever {
public:
    // Loads the index in `dir` (BM25 part, and the dense part when it has one). The encoder
    // is loaded on the first dense query, from the directory in the manifest unless
    // `encoder_dir` is given (the index moved to another machine).
    static Retriever open(const std::filesystem::path& dir, const std::string& encoder_dir = "");

    const Bm25Index& bm25() const { return bm25_; }

    bool has_dense() const { return dense_.has_value(); }

    const DenseIndex* dense() const { return dense_ ? &*dense_ : nullptr; }

    // The embedded query (loads the encoder on first use). Needs a dense index.
    std::vector<float> embed_query(const std::string& query) const;

    // Best first. Dense and hybrid modes on an index without embeddings are an error saying
    // how to build one. Not thread-safe on the first dense query (the encoder loads then).
    std::vector<ScoredChunk> search(const std::string& query, const RetrieveOptions& options) const;

private:
    const ChunkEmbedder& embedder() const;

    std::filesystem::path dir_;
    Bm25Index bm25_;
    std::optional<DenseIndex> dense_;
    std::string encoder_dir_;
    mutable std::unique_ptr<ChunkEmbedder> embedder_;
};

}  // namespace qforge::rag
