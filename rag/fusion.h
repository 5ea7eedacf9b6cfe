// What is here: fusing ranked lists from several retrievers (BM25, dense) into one ranking:
// reciprocal rank fusion and weighted min-max-normalised score fusion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qforge::rag {

// A chunk id with its score, as every retriever returns them (best first).
struct ScoredChunk {
    std::uint32_t chunk = 0;
    double score = 0;
};

// Reciprocal rank fusion (Cormack et al. 2009): score(c) = sum over lists of 1 / (k + rank),
// rank counted from 1 in each list that holds c. Result best first, ties by chunk id, cut to
// top_k when top_k > 0. Each list must be sorted best first and hold a chunk at most once.
std::vector<ScoredChunk> reciprocal_rank_fusion(
    const std::vector<std::vector<ScoredChunk>>& rankings, double k = 60.0, std::size_t top_k = 0);

// Weighted score fusion: each list's scores are min-max normalised to [0, 1] (all 1 when the
// list's scores are equal), then score(c) = sum over lists of weight * normalised score
// (0 where a list lacks c). Needs one non-negative weight per list, not all zero.
std::vector<ScoredChunk> weighted_score_fusion(
    const std::vector<std::vector<ScoredChunk>>& rankings, const std::vector<double>& weights,
    std::size_t top_k = 0);

}  // namespace qforge::rag
