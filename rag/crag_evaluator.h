// What is here: corrective RAG's retrieval evaluator: how relevant a passage is to a question,
// as a score in [0, 1]. The default is lexical (idf-weighted coverage of the question's terms,
// from the index's own statistics); the optional one asks a causal LM "Yes" or "No" and reads
// the answer from its next-token log-probabilities.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rag/bm25_index.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::rag {

class RelevanceEvaluator {
public:
    virtual ~RelevanceEvaluator() = default;
    // Relevance of `passage` to `question` in [0, 1].
    virtual double score(std::string_view question, std::string_view passage) const = 0;
    virtual std::string name() const = 0;
};

// The question's evidence terms: analysed as the index analyses chunks, English stop words
// and question words (what, which, who, did, ...: rare in passages, so high idf, but not
// evidence) dropped, distinct, in question order.
std::vector<std::string> question_terms(std::string_view question);

// score = sum of idf(t) over the question's terms t (question_terms) found in the passage,
// divided by the sum over all of them (idf = BM25's, from the index, so rare words weigh
// more). 0 for a question with no terms.
class LexicalEvaluator final : public RelevanceEvaluator {
public:
    explicit LexicalEvaluator(const Bm25Index& index) : index_(index) {}

    double score(std::string_view question, std::string_view passage) const override;

    std::string name() const override { return "lexical"; }

private:
    const Bm25Index& index_;
};

// Asks the model, greedily framed as a yes/no question:
//   "Document: <passage>\nQuestion: <question>\nIs the document relevant to the question?
//    Answer Yes or No.\nAnswer:"
// and returns p(Yes) / (p(Yes) + p(No)) from the next-token distribution (Yes/No are the
// tokens where "Answer: Yes" and "Answer: No" first differ). The passage is cut from the end
// to fit the context.
class ModelEvaluator final : public RelevanceEvaluator {
public:
    ModelEvaluator(const LlamaModel& model, const Tokenizer& tokenizer,
                   const LoraAdapter* adapter = nullptr);

    double score(std::string_view question, std::string_view passage) const override;

    std::string name() const override { return "model"; }

private:
    const LlamaModel& model_;
    const Tokenizer& tokenizer_;
    const LoraAdapter* adapter_;
    int32_t yes_ = 0, no_ = 0;
};

}  // namespace qforge::rag
