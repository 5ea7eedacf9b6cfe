// What is here: the judge behind G-Eval: something that continues a prompt and reports the
// log-probabilities of its next token: a local model run by qforge (local_judge.h) or an
// OpenAI-compatible HTTP endpoint (http_judge.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qforge::eval {

struct TokenLogprob {
    std::string token;  // the token's text as the judge decodes it (e.g. "1", " 1")
    double logprob = 0.0;
};

class Judge {
public:
    virtual ~Judge() = default;
    // Names the judge in caches and reports: "local:<model dir>", "<url> model=<name>".
    virtual std::string id() const = 0;
    // Greedy continuation of `prompt`, at most max_tokens tokens.
    virtual std::string complete(const std::string& prompt, int64_t max_tokens) = 0;
    // The judge's next-token alternatives after `prompt` (the top_k most likely, at least).
    virtual std::vector<TokenLogprob> next_token_logprobs(const std::string& prompt, int top_k) = 0;
};

}  // namespace qforge::eval
