// What is here: one retrieval-augmented answer: retrieve (or retrieve correctively), build
// the numbered-context prompt, generate with the Llama model (and LoRA adapter), and report
// the passages the numbers point to.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rag/crag.h"
#include "rag/rag_prompt.h"
#include "rag/retriever.h"
#include "runtime/generate/generate.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::rag {

struct RagAnswerOptions {
    RetrieveOptions retrieve;  // retrieve.k passages
    bool corrective = false;
    CragOptions crag;                   // crag.k is set to retrieve.k
    std::string evaluator = "lexical";  // lexical | model (the generating model judges)
    int64_t max_new_tokens = 128;
    SamplingParams sampling;  // greedy by default
};

struct RagAnswer {
    std::string answer;
    RagPrompt prompt;
    std::vector<std::size_t> cited;  // passage numbers cited in the answer
    std::optional<CragResult> crag;
    GenerateResult generation;
};

// Called with each corrective decision as one JSON line (crag_log_json).
using CragLog = std::function<void(const std::string&)>;

// The passages of a plain retrieval, with their sources.
std::vector<ContextSource> context_sources(const Bm25Index& index,
                                           const std::vector<ScoredChunk>& hits);

// The passages corrective retrieval kept (refined text, offset of the first kept strip).
std::vector<ContextSource> context_sources(const Bm25Index& index,
                                           const std::vector<CragPassage>& passages);

RagAnswer answer_question(const std::string& question, const Retriever& retriever,
                          const LlamaModel& model, const Tokenizer& tokenizer,
                          const LoraAdapter* adapter, const RagAnswerOptions& options,
                          const CragLog& log = {});

}  // namespace qforge::rag
