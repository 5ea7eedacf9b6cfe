// What is here: the lexical and model-judged retrieval evaluators (see rag/crag_evaluator.h).
#include "rag/crag_evaluator.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "kernels/common.h"
#include "rag/bm25.h"
#include "rag/text_analyzer.h"

namespace qforge::rag {

double LexicalEvaluator::score(std::string_view question, std::string_view passage) const {
    const AnalyzerOptions analyzer{true};
    const auto q = analyze_terms(question, analyzer);
    const std::set<std::string> q_terms(q.begin(), q.end());
    const auto p = analyze_terms(passage, analyzer);
    const std::set<std::string> p_terms(p.begin(), p.end());
    double found = 0, total = 0;
    for (const std::string& t : q_terms) {
        const double idf = bm25_idf(index_.num_chunks(), index_.document_frequency(t));
        total += idf;
        if (p_terms.count(t) > 0) {
            found += idf;
        }
    }
    return total > 0 ? found / total : 0.0;
}

ModelEvaluator::ModelEvaluator(const LlamaModel& model, const Tokenizer& tokenizer,
                               const LoraAdapter* adapter)
    : model_(model), tokenizer_(tokenizer), adapter_(adapter) {
    const auto yes = tokenizer_.encode(" Yes", false);
    const auto no = tokenizer_.encode(" No", false);
    QF_CHECK(!yes.empty() && !no.empty() && yes[0] != no[0],
             "crag: the tokenizer cannot tell \" Yes\" from \" No\" by their first token");
    yes_ = yes[0];
    no_ = no[0];
}

double ModelEvaluator::score(std::string_view question, std::string_view passage) const {
    const std::string head = "Document: ";
    const std::string tail = "\nQuestion: " + std::string(question) +
                             "\nIs the document relevant to the question? Answer Yes or No.\n"
                             "Answer:";
    std::vector<int32_t> ids = tokenizer_.encode(head, true);
    std::vector<int32_t> body = tokenizer_.encode(std::string(passage), false);
    const std::vector<int32_t> end = tokenizer_.encode(tail, false);
    const auto max_len = static_cast<std::size_t>(model_.config().max_position_embeddings);
    QF_CHECK(ids.size() + end.size() < max_len,
             "crag: the question alone ({} tokens) does not fit the model's context of {}",
             ids.size() + end.size(), max_len);
    body.resize(std::min(body.size(), max_len - ids.size() - end.size()));
    ids.insert(ids.end(), body.begin(), body.end());
    ids.insert(ids.end(), end.begin(), end.end());
    KVCache cache = model_.make_cache(1, static_cast<int64_t>(ids.size()));
    const Tensor logits =
        model_.forward(ids, 1, static_cast<int64_t>(ids.size()), cache, true, adapter_);
    const float* row = logits.data<float>();
    // Two-way softmax over the Yes/No logits = p(Yes) / (p(Yes) + p(No)).
    const double d = static_cast<double>(row[no_]) - static_cast<double>(row[yes_]);
    return 1.0 / (1.0 + std::exp(d));
}

}  // namespace qforge::rag
