// What is here: chrf.h, following sacrebleu/metrics/chrf.py: character n-grams over code
// points with whitespace removed (Python str.split semantics), word n-grams over words whose
// leading or trailing ASCII punctuation is split off, statistics summed over the corpus, and
// the F-beta of averaged precision and recall. Floating-point order follows the Python.
#include "evaluation/metrics/chrf.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "evaluation/metrics/sacrebleu_signature.h"
#include "evaluation/metrics/unicode_text.h"
#include "kernels/common.h"

namespace qforge::eval {

namespace {

// One counter per order: char orders first (keys view into the segment's text), then word
// orders (keys are the words joined by one space, stored in the map).
struct SegmentNgrams {
    std::u32string chars;  // the text the char keys view into
    std::vector<std::unordered_map<std::u32string_view, std::int64_t>> char_counts;
    std::vector<std::unordered_map<std::u32string, std::int64_t>> word_counts;
};

// sacrebleu's CHRF._remove_punctuation: a word longer than one character loses a trailing
// punctuation mark, or else a leading one, as a separate token.
std::vector<std::u32string_view> words_with_punct_split(std::u32string_view sent) {
    std::vector<std::u32string_view> out;
    for (std::u32string_view w : text::split_whitespace(sent)) {
        if (w.size() == 1) {
            out.push_back(w);
        } else if (text::is_ascii_punct(w.back())) {
            out.push_back(w.substr(0, w.size() - 1));
            out.push_back(w.substr(w.size() - 1));
        } else if (text::is_ascii_punct(w.front())) {
            out.push_back(w.substr(0, 1));
            out.push_back(w.substr(1));
        } else {
            out.push_back(w);
        }
    }
    return out;
}

void extract(SegmentNgrams& seg, std::u32string_view sent, const ChrfOptions& options) {
    if (options.whitespace) {
        seg.chars.assign(sent);
    } else {
        seg.chars.clear();
        for (std::u32string_view w : text::split_whitespace(sent)) {
            seg.chars += w;
        }
    }
    const std::u32string_view chars(seg.chars);
    seg.char_counts.assign(static_cast<std::size_t>(options.char_order), {});
    for (std::size_t n = 1; n <= seg.char_counts.size(); ++n) {
        auto& counts = seg.char_counts[n - 1];
        for (std::size_t i = 0; i + n <= chars.size(); ++i) {
            ++counts[chars.substr(i, n)];
        }
    }
    seg.word_counts.assign(static_cast<std::size_t>(options.word_order), {});
    if (options.word_order > 0) {
        const auto words = words_with_punct_split(sent);
        for (std::size_t n = 1; n <= seg.word_counts.size(); ++n) {
            auto& counts = seg.word_counts[n - 1];
            for (std::size_t i = 0; i + n <= words.size(); ++i) {
                std::u32string key(words[i]);
                for (std::size_t k = 1; k < n; ++k) {
                    key += U' ';
                    key += words[i + k];
                }
                ++counts[key];
            }
        }
    }
}

// sacrebleu's _get_match_statistics: [hyp count (0 when the reference has none of this
// order), reference count, clipped matches].
template <class Map>
void match_stats(const Map& hyp, const Map& ref, std::vector<std::int64_t>& out) {
    std::int64_t hyp_count = 0;
    std::int64_t match_count = 0;
    for (const auto& [ngram, count] : hyp) {
        hyp_count += count;
        if (auto it = ref.find(ngram); it != ref.end()) {
            match_count += std::min(count, it->second);
        }
    }
    std::int64_t ref_count = 0;
    for (const auto& [ngram, count] : ref) {
        ref_count += count;
    }
    out.push_back(ref.empty() ? 0 : hyp_count);
    out.push_back(ref_count);
    out.push_back(match_count);
}

// sacrebleu's CHRF._compute_f_score.
double f_score(const std::vector<std::int64_t>& stats, const ChrfOptions& options) {
    const double eps = 1e-16;
    const std::size_t order = stats.size() / 3;
    const double factor = static_cast<double>(options.beta) * options.beta;
    double score = 0.0;
    double avg_prec = 0.0;
    double avg_rec = 0.0;
    int effective_order = 0;
    for (std::size_t i = 0; i < order; ++i) {
        const auto n_hyp = stats[3 * i];
        const auto n_ref = stats[3 * i + 1];
        const auto n_match = stats[3 * i + 2];
        const double prec =
            n_hyp > 0 ? static_cast<double>(n_match) / static_cast<double>(n_hyp) : eps;
        const double rec =
            n_ref > 0 ? static_cast<double>(n_match) / static_cast<double>(n_ref) : eps;
        const double denom = factor * prec + rec;
        score += denom > 0 ? ((1 + factor) * prec * rec / denom) : eps;
        if (n_hyp > 0 && n_ref > 0) {
            avg_prec += prec;
            avg_rec += rec;
            ++effective_order;
        }
    }
    if (options.eps_smoothing) {
        return 100 * score / static_cast<double>(order);
    }
    if (effective_order == 0) {
        avg_prec = avg_rec = 0.0;
    } else {
        avg_prec /= effective_order;
        avg_rec /= effective_order;
    }
    if (avg_prec + avg_rec != 0.0) {
        score = (1 + factor) * avg_prec * avg_rec;
        score /= (factor * avg_prec) + avg_rec;
        return 100 * score;
    }
    return 0.0;
}

std::u32string preprocess(std::string_view raw, const ChrfOptions& options, std::string_view what) {
    std::u32string s = text::utf8_decode(raw, what);
    return options.lowercase ? text::lower(s) : s;
}

// Statistics of one segment against the best of its references.
std::vector<std::int64_t> segment_stats(std::string_view hyp, const std::vector<std::string>& refs,
                                        const ChrfOptions& options, std::size_t segment) {
    QF_CHECK(!refs.empty(), "chrF: segment {} has no reference (expected at least one)", segment);
    SegmentNgrams h;
    extract(h, preprocess(hyp, options, fmt::format("chrF: hypothesis {}", segment)), options);
    std::vector<std::int64_t> best;
    double best_f = -1.0;
    SegmentNgrams r;
    for (std::size_t k = 0; k < refs.size(); ++k) {
        extract(r,
                preprocess(refs[k], options,
                           fmt::format("chrF: reference {} of segment {}", k, segment)),
                options);
        std::vector<std::int64_t> stats;
        stats.reserve(3 * (h.char_counts.size() + h.word_counts.size()));
        for (std::size_t n = 0; n < h.char_counts.size(); ++n) {
            match_stats(h.char_counts[n], r.char_counts[n], stats);
        }
        for (std::size_t n = 0; n < h.word_counts.size(); ++n) {
            match_stats(h.word_counts[n], r.word_counts[n], stats);
        }
        const double f = f_score(stats, options);
        if (f > best_f) {
            best_f = f;
            best = std::move(stats);
        }
    }
    return best;
}

void check_options(const ChrfOptions& options) {
    QF_CHECK(options.char_order >= 0 && options.word_order >= 0 &&
                 options.char_order + options.word_order >= 1,
             "chrF: char_order {} and word_order {} (expected >= 0 each, at least one order)",
             options.char_order, options.word_order);
    QF_CHECK(options.beta >= 0, "chrF: beta is {} (expected >= 0)", options.beta);
}

ChrfScore make_score(const std::vector<std::int64_t>& stats, const ChrfOptions& options) {
    ChrfScore out;
    out.score = f_score(stats, options);
    out.name = fmt::format("chrF{}{}", options.beta,
                           std::string(static_cast<std::size_t>(options.word_order), '+'));
    out.stats = stats;
    return out;
}

}  // namespace

std::string chrf_signature(const ChrfOptions& options, std::string_view nrefs) {
    return fmt::format("nrefs:{}|case:{}|eff:{}|nc:{}|nw:{}|space:{}|version:{}", nrefs,
                       options.lowercase ? "lc" : "mixed", options.eps_smoothing ? "no" : "yes",
                       options.char_order, options.word_order, options.whitespace ? "yes" : "no",
                       kSacrebleuVersion);
}

ChrfScore chrf_corpus(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const ChrfOptions& options) {
    check_options(options);
    QF_CHECK(!hyps.empty(), "chrF: no hypotheses (expected at least one segment)");
    QF_CHECK(hyps.size() == refs.size(),
             "chrF: {} hypotheses but {} reference lists (expected one list per hypothesis)",
             hyps.size(), refs.size());
    std::vector<std::int64_t> sum(
        3 * static_cast<std::size_t>(options.char_order + options.word_order), 0);
    for (std::size_t i = 0; i < hyps.size(); ++i) {
        const auto stats = segment_stats(hyps[i], refs[i], options, i);
        for (std::size_t k = 0; k < stats.size(); ++k) {
            sum[k] += stats[k];
        }
    }
    ChrfScore out = make_score(sum, options);
    out.signature = chrf_signature(options, signature_nrefs(refs));
    out.n_scored = hyps.size();
    return out;
}

ChrfScore chrf_sentence(std::string_view hyp, const std::vector<std::string>& refs,
                        const ChrfOptions& options) {
    check_options(options);
    ChrfScore out = make_score(segment_stats(hyp, refs, options, 0), options);
    out.signature = chrf_signature(options, std::to_string(refs.size()));
    out.n_scored = 1;
    return out;
}

}  // namespace qforge::eval
