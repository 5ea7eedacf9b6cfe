// What is here: brute-force inner-product top-k (see rag/dense_search.h).
#include "rag/dense_search.h"

#include <algorithm>
#include <queue>

#include "kernels/common.h"

namespace qforge::rag {

float dot(std::span<const float> a, std::span<const float> b) {
    QF_CHECK(a.size() == b.size(), "dot: vectors of {} and {} floats", a.size(), b.size());
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const std::size_t n = a.size(), n8 = n - n % 8;
    for (std::size_t i = 0; i < n8; i += 8) {
        for (std::size_t j = 0; j < 8; ++j) {
            acc[j] += a[i + j] * b[i + j];
        }
    }
    for (std::size_t i = n8; i < n; ++i) {
        acc[i - n8] += a[i] * b[i];
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

std::vector<ScoredChunk> exact_search(const EmbeddingMatrix& m, std::span<const float> query,
                                      std::size_t k) {
    QF_CHECK(query.size() == m.dim,
             "dense search: query has {} floats, the index holds {}-d vectors", query.size(),
             m.dim);
    auto better = [](const ScoredChunk& a, const ScoredChunk& b) {
        return a.score != b.score ? a.score > b.score : a.chunk < b.chunk;
    };
    // A heap of the k best so far whose top is the worst of them.
    std::priority_queue<ScoredChunk, std::vector<ScoredChunk>, decltype(better)> heap(better);
    k = std::min(k, m.rows);
    for (std::size_t i = 0; i < m.rows && k > 0; ++i) {
        const ScoredChunk c{static_cast<std::uint32_t>(i), dot(m.row(i), query)};
        if (heap.size() < k) {
            heap.push(c);
        } else if (better(c, heap.top())) {
            heap.pop();
            heap.push(c);
        }
    }
    std::vector<ScoredChunk> out;
    out.reserve(heap.size());
    while (!heap.empty()) {
        out.push_back(heap.top());
        heap.pop();
    }
    std::reverse(out.begin(), out.end());
    return out;
}

}  // namespace qforge::rag
