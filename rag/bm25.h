// What is here: the BM25 Okapi scoring formula, kept apart from the index so that tests can
// check it term by term.
#pragma once

#include <cstdint>

namespace qforge::rag {

struct Bm25Params {
    double k1 = 1.2;  // term-frequency saturation
    double b = 0.75;  // length normalisation (0: none, 1: full)
};

// idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)), Lucene's form of the Robertson-Sparck Jones
// weight: always positive, so a term in most chunks still adds a little instead of
// subtracting.
double bm25_idf(std::uint64_t num_chunks, std::uint64_t df);

// One term's contribution to a chunk's score:
//   idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * chunk_terms / avg_chunk_terms))
// A query's score is the sum over its terms (a repeated query term counts each time).
double bm25_term_score(double idf, std::uint32_t tf, std::uint32_t chunk_terms,
                       double avg_chunk_terms, const Bm25Params& params);

}  // namespace qforge::rag
