// What is here: ROUGE-1, ROUGE-2 and ROUGE-L (Lin 2004) as Google's rouge_score computes them
// with its default tokenizer and no stemming; LCS in linear memory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::eval {

struct RougeValue {
    double precision = 0.0;  // 0..1
    double recall = 0.0;
    double fmeasure = 0.0;
};

struct RougeScores {
    RougeValue rouge1;
    RougeValue rouge2;
    RougeValue rouge_l;
    std::size_t n_scored = 0;  // pairs scored (means over them for rouge_corpus)
};

// rouge_score's tokenizer: Python str.lower(), every run of characters outside [a-z0-9]
// becomes a separator (so non-ASCII letters are dropped), empty tokens are discarded.
std::vector<std::string> rouge_tokenize(std::string_view text);

// Length of the longest common subsequence: O(|a|*|b|) time, O(min(|a|,|b|)) memory.
std::size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b);

// rouge_score.RougeScorer(["rouge1","rouge2","rougeL"]).score(target, prediction).
RougeScores rouge_score(std::string_view target, std::string_view prediction);

// rouge_score's score_multi: per metric, the target giving the highest F-measure.
RougeScores rouge_score_multi(const std::vector<std::string>& targets, std::string_view prediction);

// Mean of the per-pair precision/recall/F over the corpus (targets[i] scores predictions[i]).
RougeScores rouge_corpus(const std::vector<std::string>& predictions,
                         const std::vector<std::string>& targets);

}  // namespace qforge::eval
