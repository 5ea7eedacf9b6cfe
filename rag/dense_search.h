// What is here: exact (brute-force) maximum inner-product search over a row-major matrix of
// embeddings: the reference that HNSW is measured against, and the search of small corpora.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "rag/fusion.h"

namespace qforge::rag {

// A read-only (N, D) row-major matrix of f32 embeddings: row i is chunk i.
struct EmbeddingMatrix {
    const float* data = nullptr;
    std::size_t rows = 0;
    std::size_t dim = 0;

    std::span<const float> row(std::size_t i) const { return {data + i * dim, dim}; }
};

// Inner product of two vectors of the same length, accumulated in float with 8 independent
// partial sums (vectorisable; the order is fixed, so results are reproducible).
float dot(std::span<const float> a, std::span<const float> b);

// The k rows with the largest inner product with `query` (D floats), best first, ties by
// chunk id. Scores are the inner products (the cosine for L2-normalised vectors).
std::vector<ScoredChunk> exact_search(const EmbeddingMatrix& m, std::span<const float> query,
                                      std::size_t k);

}  // namespace qforge::rag
