// What is here: G-Eval (Liu et al. 2023): a criterion expands once into evaluation steps
// (chain of thought written by the judge, cached on disk), then a form-filling prompt per
// example; the score is the probability-weighted sum over the score tokens "1".."5" of the
// judge's next-token log-probabilities.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "evaluation/judge/judge.h"

namespace qforge::eval {

struct GevalCriterion {
    std::string name;         // "coherence", or a user's own name
    std::string description;  // what a 1..5 score measures
};

// The four criteria of the G-Eval paper, worded for answers to prompts: "coherence",
// "consistency", "fluency", "relevance". Other names are a qforge::Error listing these.
GevalCriterion geval_builtin_criterion(const std::string& name);

// The prompt that asks the judge for evaluation steps.
std::string geval_steps_prompt(const GevalCriterion& c);

// The form-filling prompt for one (source, answer), ending in "- <Name> (1-5):".
std::string geval_form_prompt(const GevalCriterion& c, const std::string& steps,
                              const std::string& source, const std::string& answer);

// 1..5 when `token`, with surrounding whitespace removed, is that single digit; else 0.
int geval_score_digit(const std::string& token);

// sum_d d * p(d) / sum_d p(d) over the tokens that are score digits (the same digit may come
// as several tokens, e.g. "1" and " 1": their probabilities add). NaN when none is present.
double geval_score_from_logprobs(const std::vector<TokenLogprob>& top);

// The evaluation steps for `c` from `judge`: read from cache_dir when a file for this judge
// and criterion exists, else generated (max_tokens) and written there atomically.
std::string geval_steps(Judge& judge, const GevalCriterion& c,
                        const std::filesystem::path& cache_dir, int64_t max_tokens = 256);

struct GevalResult {
    std::vector<double> per_example;  // NaN where the judge put no mass on "1".."5"
    double mean = 0.0;                // over the scored examples
    std::size_t n_scored = 0;
    std::string steps;
};

// Scores answers[i] for sources[i] (the prompt the answer was written for).
GevalResult geval_score(Judge& judge, const GevalCriterion& c, const std::string& steps,
                        const std::vector<std::string>& sources,
                        const std::vector<std::string>& answers, int top_k = 20);

}  // namespace qforge::eval
