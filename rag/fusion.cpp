// What is here: rank fusion of several retrievers' lists (see rag/fusion.h).
#include "rag/fusion.h"

#include <algorithm>
#include <map>

#include "kernels/common.h"

namespace qforge::rag {

namespace {

std::vector<ScoredChunk> sorted_top(const std::map<std::uint32_t, double>& scores,
                                    std::size_t top_k) {
    std::vector<ScoredChunk> out;
    out.reserve(scores.size());
    for (const auto& [chunk, score] : scores) {
        out.push_back({chunk, score});
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const ScoredChunk& a, const ScoredChunk& b) { return a.score > b.score; });
    if (top_k > 0 && out.size() > top_k) {
        out.resize(top_k);
    }
    return out;
}

}  // namespace

std::vector<ScoredChunk> reciprocal_rank_fusion(
    const std::vector<std::vector<ScoredChunk>>& rankings, double k, std::size_t top_k) {
    QF_CHECK(k >= 0, "reciprocal_rank_fusion: k must be >= 0, got {}", k);
    std::map<std::uint32_t, double> scores;  // ordered by chunk id, so ties stay by id
    for (std::size_t l = 0; l < rankings.size(); ++l) {
        for (std::size_t r = 0; r < rankings[l].size(); ++r) {
            scores[rankings[l][r].chunk] += 1.0 / (k + static_cast<double>(r + 1));
        }
    }
    return sorted_top(scores, top_k);
}

std::vector<ScoredChunk> weighted_score_fusion(
    const std::vector<std::vector<ScoredChunk>>& rankings, const std::vector<double>& weights,
    std::size_t top_k) {
    QF_CHECK(weights.size() == rankings.size(),
             "weighted_score_fusion: {} weights for {} ranked lists", weights.size(),
             rankings.size());
    double weight_sum = 0;
    for (double w : weights) {
        QF_CHECK(w >= 0, "weighted_score_fusion: weights must be >= 0, got {}", w);
        weight_sum += w;
    }
    QF_CHECK(weight_sum > 0, "weighted_score_fusion: all weights are zero");
    std::map<std::uint32_t, double> scores;
    for (std::size_t l = 0; l < rankings.size(); ++l) {
        const auto& list = rankings[l];
        if (list.empty()) {
            continue;
        }
        auto [lo, hi] = std::minmax_element(
            list.begin(), list.end(),
            [](const ScoredChunk& a, const ScoredChunk& b) { return a.score < b.score; });
        const double range = hi->score - lo->score;
        for (const auto& item : list) {
            const double norm = range > 0 ? (item.score - lo->score) / range : 1.0;
            scores[item.chunk] += weights[l] * norm;
        }
    }
    return sorted_top(scores, top_k);
}

}  // namespace qforge::rag
