// What is here: LocalJudge, a G-Eval judge run by qforge itself on a Llama-family model
// (LlamaModel logits, greedy decoding).
#pragma once

#include <string>

#include "evaluation/judge/judge.h"
#include "runtime/model/llama.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::eval {

class LocalJudge final : public Judge {
public:
    // The model and tokenizer must outlive the judge. `name` goes into id() ("local:<name>").
    LocalJudge(const LlamaModel& model, const Tokenizer& tok, std::string name);

    std::string id() const override { return "local:" + name_; }

    std::string complete(const std::string& prompt, int64_t max_tokens) override;

    // The top_k tokens by probability, then every other token whose text, trimmed of spaces,
    // is one of the score digits "1".."5" (so a G-Eval score never misses probability mass),
    // as log-softmax of the logits at the last prompt position.
    std::vector<TokenLogprob> next_token_logprobs(const std::string& prompt, int top_k) override;

private:
    std::vector<int32_t> encode_prompt(const std::string& prompt) const;

    const LlamaModel& model_;
    const Tokenizer& tok_;
    std::string name_;
    std::vector<int32_t> digit_ids_;  // tokens whose text is a score digit, found once
};

}  // namespace qforge::eval
