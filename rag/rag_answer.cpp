// What is here: retrieve, prompt, generate (see rag/rag_answer.h).
#include "rag/rag_answer.h"

#include <algorithm>
#include <memory>

#include "kernels/common.h"

namespace qforge::rag {

std::vector<ContextSource> context_sources(const Bm25Index& index,
                                           const std::vector<ScoredChunk>& hits) {
    std::vector<ContextSource> out;
    for (const ScoredChunk& h : hits) {
        const ChunkView c = index.chunk(h.chunk);
        out.push_back({h.chunk, std::string(c.text), std::string(c.doc_id), std::string(c.title),
                       std::string(c.source), c.byte_offset});
    }
    return out;
}

std::vector<ContextSource> context_sources(const Bm25Index& index,
                                           const std::vector<CragPassage>& passages) {
    std::vector<ContextSource> out;
    for (const CragPassage& p : passages) {
        const ChunkView c = index.chunk(p.chunk);
        out.push_back({p.chunk, p.text, std::string(c.doc_id), std::string(c.title),
                       std::string(c.source), p.byte_offset});
    }
    return out;
}

RagAnswer answer_question(const std::string& question, const Retriever& retriever,
                          const LlamaModel& model, const Tokenizer& tokenizer,
                          const LoraAdapter* adapter, const RagAnswerOptions& o,
                          const CragLog& log) {
    RagAnswer a;
    std::vector<ContextSource> sources;
    if (o.corrective) {
        std::unique_ptr<RelevanceEvaluator> evaluator;
        if (o.evaluator == "model") {
            evaluator = std::make_unique<ModelEvaluator>(model, tokenizer, adapter);
        } else {
            QF_CHECK(o.evaluator == "lexical",
                     "rag: the evaluator must be lexical or model, got \"{}\"", o.evaluator);
            evaluator = std::make_unique<LexicalEvaluator>(retriever.bm25());
        }
        CragOptions crag = o.crag;
        crag.k = o.retrieve.k;
        a.crag = corrective_retrieve(question, retriever, o.retrieve, *evaluator, crag);
        if (log) {
            log(crag_log_json(question, *a.crag, crag, evaluator->name(), retriever.bm25()));
        }
        sources = context_sources(retriever.bm25(), a.crag->passages);
    } else {
        sources = context_sources(retriever.bm25(), retriever.search(question, o.retrieve));
    }
    const auto context = static_cast<std::size_t>(model.config().max_position_embeddings);
    const auto room = static_cast<std::size_t>(std::max<int64_t>(o.max_new_tokens, 1));
    QF_CHECK(room < context, "rag: --max-tokens {} leaves no room for a prompt in the model's {}",
             o.max_new_tokens, context);
    a.prompt = build_rag_prompt(question, sources, tokenizer, context - room);

    GenerateOptions g;
    g.max_new_tokens = o.max_new_tokens;
    g.sampling = o.sampling;
    g.adapter = adapter;
    g.stop_ids = model.config().eos_token_ids;
    if (const auto eos = tokenizer.eos_id();
        eos && std::find(g.stop_ids.begin(), g.stop_ids.end(), *eos) == g.stop_ids.end()) {
        g.stop_ids.push_back(*eos);
    }
    a.generation = generate(model, a.prompt.ids, g);
    a.answer = tokenizer.decode(a.generation.tokens, true);
    a.cited = cited_passages(a.answer, a.prompt.used.size());
    return a;
}

}  // namespace qforge::rag
