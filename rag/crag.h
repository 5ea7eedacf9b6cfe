// What is here: corrective RAG (after Yan et al. 2024, "Corrective Retrieval Augmented
// Generation"): score each retrieved chunk with a retrieval evaluator, map the scores to an
// action, and build the context from it:
//   Correct   (some chunk scores >= upper): refine the relevant chunks: split them into
//             sentence strips, keep the strips that score >= strip_min, recompose.
//   Incorrect (every chunk scores < lower): discard them; rewrite the question as keywords
//             and search wider (BM25 over the whole corpus at wide_k), then refine those.
//   Ambiguous (otherwise): both, the refined relevant chunks first.
// The paper's web search is replaced by the wider corpus search (no web access is assumed);
// a user-supplied search endpoint is not implemented. Every decision can be logged as one
// JSON line with all its scores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rag/crag_evaluator.h"
#include "rag/retriever.h"

namespace qforge::rag {

enum class CragAction { kCorrect, kIncorrect, kAmbiguous };

std::string_view crag_action_name(CragAction a);  // "correct" | "incorrect" | "ambiguous"

struct CragOptions {
    double upper = 0.6;            // a chunk at or above it makes the set Correct
    double lower = 0.25;           // every chunk below it makes the set Incorrect
    double strip_min = 0.2;        // strips kept by refinement score at least this...
    bool keep_best_strip = true;   // ...and each refined chunk keeps at least its best strip
    std::size_t wide_k = 30;       // chunks the Incorrect search retrieves
    std::size_t max_keywords = 8;  // terms in the rewritten query
    std::size_t k = 5;             // passages in the final context
};

// One passage of the final context: a chunk, or the strips of it that refinement kept.
struct CragPassage {
    std::uint32_t chunk = 0;
    std::string text;               // recomposed strips (joined by a space)
    std::uint64_t byte_offset = 0;  // of the first kept strip in the document
    double score = 0;               // the evaluator's score of the whole chunk
    std::size_t strips_kept = 0, strips_total = 0;
    bool from_wide_search = false;
};

struct CragResult {
    CragAction action = CragAction::kCorrect;
    std::vector<ScoredChunk> retrieved;  // the first retrieval, as the retriever ranked it
    std::vector<double> scores;          // the evaluator's score of each retrieved chunk
    std::string rewritten_query;         // Incorrect / Ambiguous only
    std::vector<ScoredChunk> wide;       // the wider search's hits (Incorrect / Ambiguous)
    std::vector<double> wide_scores;
    std::vector<CragPassage> passages;  // the context, at most options.k
    std::size_t retrieved_bytes = 0;    // text of the first retrieval's chunks
    std::size_t context_bytes = 0;      // text of the passages
};

// The action for a set of evaluator scores (an empty set is Incorrect).
CragAction crag_decide(const std::vector<double>& scores, const CragOptions& options);

// The keyword query: the question's terms (question_terms), rarest in the index first (then
// in question order), at most max_keywords, joined by spaces.
std::string crag_rewrite_query(const std::string& question, const Bm25Index& index,
                               std::size_t max_keywords);

// Refines one chunk: its strips that score >= strip_min (at least the best one when
// keep_best_strip), in text order.
CragPassage crag_refine(const std::string& question, std::uint32_t chunk, const Bm25Index& index,
                        const RelevanceEvaluator& evaluator, const CragOptions& options);

// The whole corrective retrieval for one question. `retrieve` options give the first
// retrieval (mode, k = options.k candidates...); the wide search is BM25.
CragResult corrective_retrieve(const std::string& question, const Retriever& retriever,
                               const RetrieveOptions& retrieve, const RelevanceEvaluator& evaluator,
                               const CragOptions& options);

// The decision as one JSON line (no trailing newline): question, evaluator, thresholds, each
// retrieved chunk with its score, the action, the rewritten query and wide hits with scores,
// the passages kept (strips kept / total) and the context size before and after.
std::string crag_log_json(const std::string& question, const CragResult& result,
                          const CragOptions& options, const std::string& evaluator,
                          const Bm25Index& index);

}  // namespace qforge::rag
