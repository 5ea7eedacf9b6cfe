// What is here: the lexical and model-judged retrieval evaluators (see rag/crag_evaluator.h).
#include "rag/crag_evaluator.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "kernels/common.h"
#include "rag/bm25.h"
#include "rag/text_analyzer.h"

namespace qforge::rag {

std::vector<std::string> question_terms(std::string_view question) {
    static const std::set<std::string_view> kQuestionWords = {
        "what", "which", "who",  "whom", "whose", "when", "where", "why",  "how", "did",
        "do",   "does",  "were", "has",  "have",  "had",  "many",  "much", "can", "could"};
    std::vector<std::string> out;
    for (std::string& t : analyze_terms(question, AnalyzerOptions{true})) {
        if (kQuestionWords.count(t) == 0 && std::find(out.begin(), out.end(), t) == out.end()) {
            out.push_back(std::move(t));
        }
    }
    return out;
}

double LexicalEvaluator::score(std::string_view question, std::string_view passage) const {
    const AnalyzerOptions analyzer{true};
    const std::vector<std::string> q_terms = question_terms(question);
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
    // The first token where "Answer: Yes" and "Answer: No" differ: what the model predicts
    // after the prompt's "Answer:" (with its leading-space handling, whatever the tokenizer).
    const auto yes = tokenizer_.encode("Answer: Yes", false);
    const auto no = tokenizer_.encode("Answer: No", false);
    std::size_t i = 0;
    while (i < yes.size() && i < no.size() && yes[i] == no[i]) {
        ++i;
    }
    QF_CHECK(i < yes.size() && i < no.size(),
             "crag: the tokenizer gives the same tokens for \"Answer: Yes\" and \"Answer: No\"");
    yes_ = yes[i];
    no_ = no[i];
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
