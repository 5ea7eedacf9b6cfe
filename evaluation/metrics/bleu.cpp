// What is here: bleu.h. Follows sacrebleu/metrics/bleu.py step by step (statistics per segment,
// summed over the corpus, then compute_bleu) so that scores agree to the last few ulps; the
// floating-point expressions keep Python's evaluation order on purpose.
#include "evaluation/metrics/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "evaluation/metrics/sacrebleu_signature.h"
#include "evaluation/metrics/tokenizer_13a.h"
#include "evaluation/metrics/unicode_text.h"
#include "kernels/common.h"

namespace qforge::eval {

namespace {

// N = max_ngram_order. An n-gram key is a view into the tokenized segment: tokens are joined
// by exactly one space there, so the substring spanning n tokens is the n-gram itself.
using NgramCounts = std::unordered_map<std::string_view, std::int64_t>;

// The 13a-tokenized segment (UTF-8, tokens separated by single spaces).
std::string preprocess(std::string_view raw, const BleuOptions& options, std::string_view what) {
    std::u32string s = text::utf8_decode(raw, what);
    if (options.lowercase) {
        s = text::lower(s);
    }
    return text::utf8_encode(tokenize_13a(text::rstrip_whitespace(s)));
}

std::vector<std::string_view> split_tokens(std::string_view tokenized) {
    std::vector<std::string_view> tokens;
    std::size_t start = 0;
    while (start < tokenized.size()) {
        std::size_t end = tokenized.find(' ', start);
        if (end == std::string_view::npos) {
            end = tokenized.size();
        }
        tokens.push_back(tokenized.substr(start, end - start));
        start = end + 1;
    }
    return tokens;
}

// Keys view into the storage of `tokens`, which must outlive the result.
NgramCounts count_ngrams(const std::vector<std::string_view>& tokens, int max_order) {
    NgramCounts counts;
    const std::size_t len = tokens.size();
    for (std::size_t n = 1; n <= static_cast<std::size_t>(max_order); ++n) {
        for (std::size_t i = 0; i + n <= len; ++i) {
            const char* first = tokens[i].data();
            const char* last = tokens[i + n - 1].data() + tokens[i + n - 1].size();
            ++counts[std::string_view(first, static_cast<std::size_t>(last - first))];
        }
    }
    return counts;
}

std::size_t ngram_order(std::string_view ngram) {
    std::size_t n = 1;
    for (char c : ngram) {
        n += c == ' ';
    }
    return n;
}

// sacrebleu's _get_closest_ref_len: smallest |hyp - ref|, ties to the shorter reference.
std::int64_t closest_ref_len(std::int64_t hyp_len, const std::vector<std::int64_t>& ref_lens) {
    std::int64_t closest_diff = -1;
    std::int64_t closest_len = -1;
    for (std::int64_t ref_len : ref_lens) {
        const std::int64_t diff = std::llabs(hyp_len - ref_len);
        if (closest_diff == -1 || diff < closest_diff) {
            closest_diff = diff;
            closest_len = ref_len;
        } else if (diff == closest_diff && ref_len < closest_len) {
            closest_len = ref_len;
        }
    }
    return closest_len;
}

// Segment statistics, laid out as sacrebleu does: [sys_len, ref_len, correct[N], total[N]].
std::vector<std::int64_t> segment_stats(std::string_view hyp, const std::vector<std::string>& refs,
                                        const BleuOptions& options, std::size_t segment) {
    const int order = options.max_ngram_order;
    QF_CHECK(!refs.empty(), "BLEU: segment {} has no reference (expected at least one)", segment);
    std::vector<std::string> ref_text;  // owns the bytes that ref_max's keys view
    ref_text.reserve(refs.size());
    std::vector<std::int64_t> ref_lens;
    NgramCounts ref_max;
    for (std::size_t k = 0; k < refs.size(); ++k) {
        ref_text.push_back(preprocess(refs[k], options,
                                      fmt::format("BLEU: reference {} of segment {}", k, segment)));
        const auto tokens = split_tokens(ref_text.back());
        ref_lens.push_back(static_cast<std::int64_t>(tokens.size()));
        for (const auto& [ngram, count] : count_ngrams(tokens, order)) {
            auto& slot = ref_max[ngram];
            slot = std::max(slot, count);
        }
    }
    const std::string hyp_text =
        preprocess(hyp, options, fmt::format("BLEU: hypothesis {}", segment));
    const auto hyp_tokens = split_tokens(hyp_text);
    const auto hyp_len = static_cast<std::int64_t>(hyp_tokens.size());

    std::vector<std::int64_t> stats(2 + 2 * static_cast<std::size_t>(order), 0);
    stats[0] = hyp_len;
    stats[1] = closest_ref_len(hyp_len, ref_lens);
    for (const auto& [ngram, count] : count_ngrams(hyp_tokens, order)) {
        const std::size_t n = ngram_order(ngram) - 1;
        stats[2 + static_cast<std::size_t>(order) + n] += count;
        if (auto it = ref_max.find(ngram); it != ref_max.end()) {
            stats[2 + n] += std::min(count, it->second);
        }
    }
    return stats;
}

double my_log(double x) {
    return x == 0.0 ? -9999999999.0 : std::log(x);
}

// sacrebleu's BLEU.compute_bleu on summed statistics.
BleuScore compute_bleu(const std::vector<std::int64_t>& stats, const BleuOptions& options) {
    const auto order = static_cast<std::size_t>(options.max_ngram_order);
    BleuScore out;
    out.sys_len = stats[0];
    out.ref_len = stats[1];
    out.counts.assign(stats.begin() + 2, stats.begin() + 2 + static_cast<std::ptrdiff_t>(order));
    out.totals.assign(stats.begin() + 2 + static_cast<std::ptrdiff_t>(order), stats.end());
    out.precisions.assign(order, 0.0);

    if (out.sys_len < out.ref_len) {
        out.bp = out.sys_len > 0 ? std::exp(1.0 - static_cast<double>(out.ref_len) /
                                                      static_cast<double>(out.sys_len))
                                 : 0.0;
    } else {
        out.bp = 1.0;
    }
    bool any_correct = false;
    for (std::int64_t c : out.counts) {
        any_correct = any_correct || c != 0;
    }
    if (!any_correct) {  // sacrebleu's early exit (#141): no matches at all
        return out;
    }
    double smooth_value =
        options.smooth_value.value_or(options.smooth_method == BleuSmooth::kFloor  ? 0.1
                                      : options.smooth_method == BleuSmooth::kAddK ? 1.0
                                                                                   : 0.0);
    double smooth_mteval = 1.0;
    std::size_t eff_order = order;
    for (std::size_t n = 1; n <= order; ++n) {
        double correct = static_cast<double>(out.counts[n - 1]);
        double total = static_cast<double>(out.totals[n - 1]);
        if (options.smooth_method == BleuSmooth::kAddK && n > 1) {
            correct += smooth_value;
            total += smooth_value;
        }
        if (total == 0.0) {
            break;
        }
        if (options.effective_order) {
            eff_order = n;
        }
        if (correct == 0.0) {
            if (options.smooth_method == BleuSmooth::kExp) {
                smooth_mteval *= 2;
                out.precisions[n - 1] = 100.0 / (smooth_mteval * total);
            } else if (options.smooth_method == BleuSmooth::kFloor) {
                out.precisions[n - 1] = 100.0 * smooth_value / total;
            }
        } else {
            out.precisions[n - 1] = 100.0 * correct / total;
        }
    }
    double log_sum = 0.0;
    for (std::size_t n = 0; n < eff_order; ++n) {
        log_sum += my_log(out.precisions[n]);
    }
    out.score = out.bp * std::exp(log_sum / static_cast<double>(eff_order));
    return out;
}

void check_options(const BleuOptions& options) {
    QF_CHECK(options.max_ngram_order >= 1 && options.max_ngram_order <= 100,
             "BLEU: max_ngram_order is {} (expected 1..100)", options.max_ngram_order);
}

}  // namespace

std::string bleu_signature(const BleuOptions& options, std::string_view nrefs) {
    std::string smooth;
    switch (options.smooth_method) {
        case BleuSmooth::kNone:
            smooth = "none";
            break;
        case BleuSmooth::kExp:
            smooth = "exp";
            break;
        case BleuSmooth::kFloor:
            smooth = fmt::format("floor[{:.2f}]", options.smooth_value.value_or(0.1));
            break;
        case BleuSmooth::kAddK:
            smooth = fmt::format("add-k[{:.2f}]", options.smooth_value.value_or(1.0));
            break;
    }
    return fmt::format("nrefs:{}|case:{}|eff:{}|tok:13a|smooth:{}|version:{}", nrefs,
                       options.lowercase ? "lc" : "mixed", options.effective_order ? "yes" : "no",
                       smooth, kSacrebleuVersion);
}

BleuScore bleu_corpus(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options) {
    check_options(options);
    QF_CHECK(!hyps.empty(), "BLEU: no hypotheses (expected at least one segment)");
    QF_CHECK(hyps.size() == refs.size(),
             "BLEU: {} hypotheses but {} reference lists (expected one list per hypothesis)",
             hyps.size(), refs.size());
    std::vector<std::int64_t> sum;
    for (std::size_t i = 0; i < hyps.size(); ++i) {
        const auto stats = segment_stats(hyps[i], refs[i], options, i);
        if (sum.empty()) {
            sum.assign(stats.size(), 0);
        }
        for (std::size_t k = 0; k < stats.size(); ++k) {
            sum[k] += stats[k];
        }
    }
    BleuScore out = compute_bleu(sum, options);
    out.signature = bleu_signature(options, signature_nrefs(refs));
    out.n_scored = hyps.size();
    return out;
}

BleuScore bleu_sentence(std::string_view hyp, const std::vector<std::string>& refs,
                        const BleuOptions& options) {
    check_options(options);
    BleuScore out = compute_bleu(segment_stats(hyp, refs, options, 0), options);
    out.signature = bleu_signature(options, std::to_string(refs.size()));
    out.n_scored = 1;
    return out;
}

}  // namespace qforge::eval
