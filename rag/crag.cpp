// What is here: corrective retrieval: decide, refine, rewrite and search wider, log (see
// rag/crag.h).
#include "rag/crag.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "kernels/common.h"
#include "rag/bm25.h"
#include "rag/crag_strips.h"

namespace qforge::rag {

std::string_view crag_action_name(CragAction a) {
    switch (a) {
        case CragAction::kCorrect:
            return "correct";
        case CragAction::kIncorrect:
            return "incorrect";
        case CragAction::kAmbiguous:
            return "ambiguous";
    }
    return "?";
}

CragAction crag_decide(const std::vector<double>& scores, const CragOptions& o) {
    QF_CHECK(o.lower <= o.upper, "crag: the lower threshold ({}) is above the upper one ({})",
             o.lower, o.upper);
    if (std::any_of(scores.begin(), scores.end(), [&](double s) { return s >= o.upper; })) {
        return CragAction::kCorrect;
    }
    if (std::all_of(scores.begin(), scores.end(), [&](double s) { return s < o.lower; })) {
        return CragAction::kIncorrect;
    }
    return CragAction::kAmbiguous;
}

std::string crag_rewrite_query(const std::string& question, const Bm25Index& index,
                               std::size_t max_keywords) {
    const std::vector<std::string> distinct = question_terms(question);
    std::vector<std::pair<double, std::size_t>> ranked;  // (-idf, position in the question)
    for (std::size_t i = 0; i < distinct.size(); ++i) {
        ranked.push_back({-bm25_idf(index.num_chunks(), index.document_frequency(distinct[i])), i});
    }
    std::stable_sort(ranked.begin(), ranked.end());
    std::string out;
    for (std::size_t i = 0; i < std::min(max_keywords, ranked.size()); ++i) {
        out += (out.empty() ? "" : " ") + distinct[ranked[i].second];
    }
    return out;
}

CragPassage crag_refine(const std::string& question, std::uint32_t chunk, const Bm25Index& index,
                        const RelevanceEvaluator& evaluator, const CragOptions& o) {
    const ChunkView c = index.chunk(chunk);
    const std::vector<TextSpan> strips = split_strips(c.text);
    std::vector<double> scores;
    std::size_t best = 0;
    for (std::size_t i = 0; i < strips.size(); ++i) {
        scores.push_back(
            evaluator.score(question, c.text.substr(strips[i].offset, strips[i].length)));
        best = scores[i] > scores[best] ? i : best;
    }
    CragPassage p;
    p.chunk = chunk;
    p.strips_total = strips.size();
    p.byte_offset = c.byte_offset;
    bool first = true;
    for (std::size_t i = 0; i < strips.size(); ++i) {
        if (scores[i] >= o.strip_min || (o.keep_best_strip && i == best)) {
            if (first) {
                p.byte_offset = c.byte_offset + strips[i].offset;
                first = false;
            }
            p.text += (p.text.empty() ? "" : " ");
            p.text += c.text.substr(strips[i].offset, strips[i].length);
            ++p.strips_kept;
        }
    }
    return p;
}

namespace {

// Evaluates and refines the chunks whose score is >= min_score, best score first.
void refine_into(const std::string& question, const std::vector<ScoredChunk>& hits,
                 const std::vector<double>& scores, double min_score, bool wide,
                 const Bm25Index& index, const RelevanceEvaluator& evaluator, const CragOptions& o,
                 std::vector<CragPassage>& out) {
    std::vector<std::size_t> order(hits.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    for (std::size_t i : order) {
        if (out.size() >= o.k) {
            return;
        }
        if (scores[i] < min_score || std::any_of(out.begin(), out.end(), [&](const CragPassage& p) {
                return p.chunk == hits[i].chunk;
            })) {
            continue;
        }
        CragPassage p = crag_refine(question, hits[i].chunk, index, evaluator, o);
        p.score = scores[i];
        p.from_wide_search = wide;
        if (p.strips_kept > 0) {
            out.push_back(std::move(p));
        }
    }
}

}  // namespace

CragResult corrective_retrieve(const std::string& question, const Retriever& retriever,
                               const RetrieveOptions& retrieve, const RelevanceEvaluator& evaluator,
                               const CragOptions& o) {
    const Bm25Index& index = retriever.bm25();
    CragResult r;
    r.retrieved = retriever.search(question, retrieve);
    for (const ScoredChunk& h : r.retrieved) {
        r.scores.push_back(evaluator.score(question, index.chunk(h.chunk).text));
        r.retrieved_bytes += index.chunk(h.chunk).text.size();
    }
    r.action = crag_decide(r.scores, o);
    if (r.action != CragAction::kIncorrect) {
        // Correct keeps the chunks that are not judged irrelevant; Ambiguous too.
        refine_into(question, r.retrieved, r.scores, o.lower, false, index, evaluator, o,
                    r.passages);
    }
    if (r.action != CragAction::kCorrect) {
        r.rewritten_query = crag_rewrite_query(question, index, o.max_keywords);
        r.wide = index.search(r.rewritten_query.empty() ? question : r.rewritten_query, o.wide_k);
        for (const ScoredChunk& h : r.wide) {
            r.wide_scores.push_back(evaluator.score(question, index.chunk(h.chunk).text));
        }
        refine_into(question, r.wide, r.wide_scores, -1.0, true, index, evaluator, o, r.passages);
    }
    for (const CragPassage& p : r.passages) {
        r.context_bytes += p.text.size();
    }
    return r;
}

std::string crag_log_json(const std::string& question, const CragResult& r, const CragOptions& o,
                          const std::string& evaluator, const Bm25Index& index) {
    using nlohmann::json;
    auto hits_json = [&](const std::vector<ScoredChunk>& hits, const std::vector<double>& scores) {
        json a = json::array();
        for (std::size_t i = 0; i < hits.size(); ++i) {
            const ChunkView c = index.chunk(hits[i].chunk);
            a.push_back({{"chunk", hits[i].chunk},
                         {"doc", std::string(c.doc_id)},
                         {"retrieval_score", hits[i].score},
                         {"score", scores[i]}});
        }
        return a;
    };
    json passages = json::array();
    for (const CragPassage& p : r.passages) {
        passages.push_back({{"chunk", p.chunk},
                            {"score", p.score},
                            {"strips_kept", p.strips_kept},
                            {"strips_total", p.strips_total},
                            {"wide", p.from_wide_search}});
    }
    json j = {{"event", "crag_decision"},
              {"question", question},
              {"evaluator", evaluator},
              {"upper", o.upper},
              {"lower", o.lower},
              {"strip_min", o.strip_min},
              {"retrieved", hits_json(r.retrieved, r.scores)},
              {"action", crag_action_name(r.action)},
              {"passages", passages},
              {"retrieved_bytes", r.retrieved_bytes},
              {"context_bytes", r.context_bytes}};
    if (r.action != CragAction::kCorrect) {
        j["rewritten_query"] = r.rewritten_query;
        j["wide_k"] = o.wide_k;
        j["wide"] = hits_json(r.wide, r.wide_scores);
    }
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace qforge::rag
