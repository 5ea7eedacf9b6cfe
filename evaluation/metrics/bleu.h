// What is here: BLEU (Papineni et al., 2002) with sacrebleu 2.x semantics: corpus and sentence
// scores, the sufficient statistics, and sacrebleu's signature string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::eval {

enum class BleuSmooth { kNone, kFloor, kAddK, kExp };

// sacrebleu's BLEU() defaults (tokenize="13a"; 13a is the only tokenizer offered here).
struct BleuOptions {
    bool lowercase = false;
    BleuSmooth smooth_method = BleuSmooth::kExp;
    std::optional<double> smooth_value = std::nullopt;  // floor: 0.1, add-k: 1 when unset
    int max_ngram_order = 4;
    bool effective_order = false;  // sacrebleu's sentence_bleu() turns this on
};

struct BleuScore {
    double score = 0.0;                // 0..100
    std::vector<std::int64_t> counts;  // matched n-grams per order (before add-k smoothing)
    std::vector<std::int64_t> totals;  // hypothesis n-grams per order
    std::vector<double> precisions;    // percent, per order, after smoothing
    double bp = 0.0;                   // brevity penalty
    std::int64_t sys_len = 0;          // hypothesis tokens
    std::int64_t ref_len = 0;          // closest reference tokens
    std::string signature;             // "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:..."
    std::size_t n_scored = 0;          // segments scored
};

// refs[i] holds the references of hyps[i] (one or more; the count may vary per segment,
// which the signature reports as nrefs:var). Sizes must match and each segment needs at
// least one reference; strings must be UTF-8. Violations throw qforge::Error.
BleuScore bleu_corpus(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options = {});

// sacrebleu.sentence_bleu(): one segment, effective order on by default.
BleuScore bleu_sentence(std::string_view hyp, const std::vector<std::string>& refs,
                        const BleuOptions& options = {.effective_order = true});

// The signature sacrebleu prints for these options and reference layout.
std::string bleu_signature(const BleuOptions& options, std::string_view nrefs);

}  // namespace qforge::eval
