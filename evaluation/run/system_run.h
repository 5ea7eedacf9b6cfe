// What is here: running one system (the base model, or the base with one LoRA adapter) over
// the test set: greedy (or sampled) answers, and the teacher-forced NLL of each reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluation/run/test_set.h"
#include "runtime/generate/sampler.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::eval {

struct GenerationSpec {
    int64_t max_tokens = 64;
    SamplingParams sampling;        // temperature 0 = greedy (the default)
    std::vector<std::string> stop;  // stop strings (cut from the output)
    bool chat = false;              // render the prompt with the model's chat template
    std::string system_prompt;      // for chat
};

struct SystemOutputs {
    std::vector<std::string> outputs;  // one per example
    std::vector<double> ref_nll;       // summed NLL (nats) of the reference tokens
    std::vector<int64_t> ref_tokens;   // how many reference tokens were scored
    int64_t prompts_truncated = 0;     // prompts cut from the left to fit the context
    double generate_seconds = 0.0;
    int64_t generated_tokens = 0;
};

// The prompt ids generation starts from (chat template or BOS + text).
std::vector<int32_t> prompt_ids(const Tokenizer& tok, const std::string& prompt,
                                const GenerationSpec& spec);

// Teacher-forced NLL of `reference` given `prompt`: the ids are prompt + encode(reference)
// (no BOS); the sum over reference tokens of -log softmax(logits)[token]. When the whole does
// not fit in the context, the prompt is cut from the left and then the reference from the
// right (at least one prompt token stays). Returns {nll_sum, tokens}.
std::pair<double, int64_t> reference_nll(const LlamaModel& model, const LoraAdapter* adapter,
                                         std::vector<int32_t> prompt,
                                         std::vector<int32_t> reference);

// Generates an answer for every example and, when `perplexity`, scores the first reference.
SystemOutputs run_system(const LlamaModel& model, const Tokenizer& tok, const LoraAdapter* adapter,
                         const std::vector<EvalExample>& examples, const GenerationSpec& spec,
                         bool perplexity);

}  // namespace qforge::eval
