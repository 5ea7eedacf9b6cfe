// What is here: rouge.h. Precision = overlap / prediction n-grams, recall = overlap / target
// n-grams (each denominator floored at 1 for ROUGE-N), F = 2PR/(P+R) or 0, as in rouge_score's
// _score_ngrams and _score_lcs. ROUGE-L is the sentence-level LCS variant ("rougeL", not the
// summary-level "rougeLsum").
#include "evaluation/metrics/rouge.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "evaluation/metrics/unicode_text.h"
#include "kernels/common.h"

namespace qforge::eval {

namespace {

double fmeasure(double precision, double recall) {
    return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

RougeValue score_ngrams(const std::vector<std::string>& target,
                        const std::vector<std::string>& prediction, std::size_t n) {
    auto count = [n](const std::vector<std::string>& tokens) {
        std::unordered_map<std::string, std::size_t> counts;
        for (std::size_t i = 0; i + n <= tokens.size(); ++i) {
            std::string key = tokens[i];
            for (std::size_t k = 1; k < n; ++k) {
                key += ' ';
                key += tokens[i + k];
            }
            ++counts[key];
        }
        return counts;
    };
    const auto t = count(target);
    const auto p = count(prediction);
    std::size_t overlap = 0;
    std::size_t t_total = 0;
    std::size_t p_total = 0;
    for (const auto& [ngram, c] : t) {
        t_total += c;
        if (auto it = p.find(ngram); it != p.end()) {
            overlap += std::min(c, it->second);
        }
    }
    for (const auto& [ngram, c] : p) {
        p_total += c;
    }
    RougeValue v;
    v.precision =
        static_cast<double>(overlap) / static_cast<double>(std::max<std::size_t>(p_total, 1));
    v.recall =
        static_cast<double>(overlap) / static_cast<double>(std::max<std::size_t>(t_total, 1));
    v.fmeasure = fmeasure(v.precision, v.recall);
    return v;
}

RougeValue score_lcs(const std::vector<std::string>& target,
                     const std::vector<std::string>& prediction) {
    RougeValue v;
    if (target.empty() || prediction.empty()) {
        return v;
    }
    const auto lcs = static_cast<double>(lcs_length(target, prediction));
    v.precision = lcs / static_cast<double>(prediction.size());
    v.recall = lcs / static_cast<double>(target.size());
    v.fmeasure = fmeasure(v.precision, v.recall);
    return v;
}

RougeScores score_tokens(const std::vector<std::string>& target,
                         const std::vector<std::string>& prediction) {
    RougeScores s;
    s.rouge1 = score_ngrams(target, prediction, 1);
    s.rouge2 = score_ngrams(target, prediction, 2);
    s.rouge_l = score_lcs(target, prediction);
    s.n_scored = 1;
    return s;
}

}  // namespace

std::vector<std::string> rouge_tokenize(std::string_view raw) {
    const std::u32string s = text::lower(text::utf8_decode(raw, "ROUGE input"));
    std::vector<std::string> tokens;
    std::string cur;
    for (char32_t c : s) {
        if ((c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9')) {
            cur += static_cast<char>(c);
        } else if (!cur.empty()) {
            tokens.push_back(std::move(cur));
            cur.clear();
        }
    }
    if (!cur.empty()) {
        tokens.push_back(std::move(cur));
    }
    return tokens;
}

std::size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    // Rows run over the longer sequence, the kept row over the shorter one:
    // row[j] = LCS(long[0..i), short[0..j)).
    const auto& lng = a.size() >= b.size() ? a : b;
    const auto& sht = a.size() >= b.size() ? b : a;
    // Compare small integer ids rather than strings in the O(n*m) loop.
    std::unordered_map<std::string_view, std::uint32_t> ids;
    std::vector<std::uint32_t> sid(sht.size());
    for (std::size_t j = 0; j < sht.size(); ++j) {
        sid[j] = ids.emplace(sht[j], static_cast<std::uint32_t>(ids.size())).first->second;
    }
    std::vector<std::size_t> row(sht.size() + 1, 0);
    for (const auto& tok : lng) {
        const auto it = ids.find(tok);
        if (it == ids.end()) {
            continue;  // a token absent from the short side never extends a match
        }
        const std::uint32_t id = it->second;
        std::size_t diag = 0;  // row[j-1] of the previous row
        for (std::size_t j = 1; j <= sht.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = sid[j - 1] == id ? diag + 1 : std::max(up, row[j - 1]);
            diag = up;
        }
    }
    return row[sht.size()];
}

RougeScores rouge_score(std::string_view target, std::string_view prediction) {
    return score_tokens(rouge_tokenize(target), rouge_tokenize(prediction));
}

RougeScores rouge_score_multi(const std::vector<std::string>& targets,
                              std::string_view prediction) {
    QF_CHECK(!targets.empty(), "ROUGE: no targets (expected at least one)");
    const auto pred = rouge_tokenize(prediction);
    RougeScores best;
    for (std::size_t k = 0; k < targets.size(); ++k) {
        const RougeScores s = score_tokens(rouge_tokenize(targets[k]), pred);
        if (k == 0 || s.rouge1.fmeasure > best.rouge1.fmeasure) {
            best.rouge1 = s.rouge1;
        }
        if (k == 0 || s.rouge2.fmeasure > best.rouge2.fmeasure) {
            best.rouge2 = s.rouge2;
        }
        if (k == 0 || s.rouge_l.fmeasure > best.rouge_l.fmeasure) {
            best.rouge_l = s.rouge_l;
        }
    }
    best.n_scored = 1;
    return best;
}

RougeScores rouge_corpus(const std::vector<std::string>& predictions,
                         const std::vector<std::string>& targets) {
    QF_CHECK(!predictions.empty(), "ROUGE: no predictions (expected at least one pair)");
    QF_CHECK(predictions.size() == targets.size(),
             "ROUGE: {} predictions but {} targets (expected one target per prediction)",
             predictions.size(), targets.size());
    RougeScores mean;
    auto add = [](RougeValue& acc, const RougeValue& v) {
        acc.precision += v.precision;
        acc.recall += v.recall;
        acc.fmeasure += v.fmeasure;
    };
    for (std::size_t i = 0; i < predictions.size(); ++i) {
        const RougeScores s = rouge_score(targets[i], predictions[i]);
        add(mean.rouge1, s.rouge1);
        add(mean.rouge2, s.rouge2);
        add(mean.rouge_l, s.rouge_l);
    }
    const auto n = static_cast<double>(predictions.size());
    for (RougeValue* v : {&mean.rouge1, &mean.rouge2, &mean.rouge_l}) {
        v->precision /= n;
        v->recall /= n;
        v->fmeasure /= n;
    }
    mean.n_scored = predictions.size();
    return mean;
}

}  // namespace qforge::eval
