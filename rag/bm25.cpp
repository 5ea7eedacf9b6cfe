// What is here: the BM25 Okapi formula (see rag/bm25.h).
#include "rag/bm25.h"

#include <cmath>

namespace qforge::rag {

double bm25_idf(std::uint64_t num_chunks, std::uint64_t df) {
    const double n = static_cast<double>(num_chunks);
    const double d = static_cast<double>(df);
    return std::log(1.0 + (n - d + 0.5) / (d + 0.5));
}

double bm25_term_score(double idf, std::uint32_t tf, std::uint32_t chunk_terms,
                       double avg_chunk_terms, const Bm25Params& params) {
    const double f = tf;
    const double norm = avg_chunk_terms > 0 ? chunk_terms / avg_chunk_terms : 1.0;
    return idf * f * (params.k1 + 1.0) / (f + params.k1 * (1.0 - params.b + params.b * norm));
}

}  // namespace qforge::rag
