// What is here: HttpJudge, a G-Eval judge behind any OpenAI-compatible endpoint (qforge serve,
// vLLM, OpenAI): POST <base>/chat/completions with logprobs and top_logprobs.
#pragma once

#include <string>

#include "evaluation/judge/judge.h"

namespace qforge::eval {

class HttpJudge final : public Judge {
public:
    // base_url: "http://host:port/v1" (or a full ".../chat/completions" URL). api_key may be
    // empty (no Authorization header).
    HttpJudge(std::string base_url, std::string model, std::string api_key,
              double timeout_s = 120.0);

    std::string id() const override { return url_ + " model=" + model_; }

    std::string complete(const std::string& prompt, int64_t max_tokens) override;

    // choices[0].logprobs.content[0].top_logprobs (top_k capped at 20, OpenAI's limit); when
    // the server returns no logprobs, the reply's text alone with log-probability 0.
    std::vector<TokenLogprob> next_token_logprobs(const std::string& prompt, int top_k) override;

    const std::string& url() const { return url_; }

private:
    std::string post(const std::string& body);

    std::string url_;
    std::string model_;
    std::string api_key_;
    double timeout_s_;
};

}  // namespace qforge::eval
