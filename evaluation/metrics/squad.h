// What is here: SQuAD v1.1 exact match and token F1, as the official evaluate-v1.1.py script
// computes them (normalize_answer, max over the gold answers, corpus means in percent).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::eval {

// Python str.lower(), drop the 32 ASCII punctuation characters, replace the words a/an/the
// (regex \b(a|an|the)\b with Unicode \b) by a space, collapse whitespace to single spaces.
std::string squad_normalize_answer(std::string_view s);

// 1.0 when the normalized strings are equal, else 0.0.
double squad_exact_match(std::string_view prediction, std::string_view ground_truth);

// Bag-of-tokens F1 of the normalized strings, 0..1 (0 when nothing is shared, including
// when both are empty: v1.1 behaviour).
double squad_f1(std::string_view prediction, std::string_view ground_truth);

struct SquadScore {
    double exact_match = 0.0;  // percent for squad_corpus, 0/1 for squad_score
    double f1 = 0.0;           // percent for squad_corpus, 0..1 for squad_score
    std::size_t n_scored = 0;
};

// Max of each measure over the gold answers (at least one, else qforge::Error).
SquadScore squad_score(std::string_view prediction, const std::vector<std::string>& ground_truths);

// 100 * mean over questions; ground_truths[i] are the gold answers of predictions[i].
SquadScore squad_corpus(const std::vector<std::string>& predictions,
                        const std::vector<std::vector<std::string>>& ground_truths);

}  // namespace qforge::eval
