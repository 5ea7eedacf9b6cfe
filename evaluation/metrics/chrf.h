// What is here: chrF (Popović 2015) and chrF++ (Popović 2017) with sacrebleu 2.x semantics:
// corpus and sentence scores and sacrebleu's signature string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::eval {

// sacrebleu's CHRF() defaults. word_order = 2 gives chrF++.
struct ChrfOptions {
    int char_order = 6;
    int word_order = 0;
    int beta = 2;
    bool lowercase = false;
    bool whitespace = false;     // keep whitespace inside character n-grams
    bool eps_smoothing = false;  // chrF++.py/NLTK/Moses epsilon smoothing instead of
                                 // sacrebleu's default effective-order averaging
};

inline ChrfOptions chrf_plus_plus_options() {
    return ChrfOptions{.word_order = 2};
}

struct ChrfScore {
    double score = 0.0;  // 0..100
    std::string name;    // "chrF2", "chrF2++"
    // Summed statistics, 3 per order (characters 1..char_order, then words 1..word_order):
    // hypothesis n-grams, reference n-grams, matched n-grams.
    std::vector<std::int64_t> stats;
    std::string signature;  // "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:..."
    std::size_t n_scored = 0;
};

// refs[i] holds the references of hyps[i]; with several, each segment keeps the statistics of
// the reference with the best segment-level F score (the first one on ties), as sacrebleu does.
// Sizes must match, each segment needs a reference, strings must be UTF-8 (qforge::Error).
ChrfScore chrf_corpus(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const ChrfOptions& options = {});

ChrfScore chrf_sentence(std::string_view hyp, const std::vector<std::string>& refs,
                        const ChrfOptions& options = {});

std::string chrf_signature(const ChrfOptions& options, std::string_view nrefs);

}  // namespace qforge::eval
