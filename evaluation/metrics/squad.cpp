// What is here: squad.h. normalize_answer applies lower -> remove_punc -> remove_articles ->
// white_space_fix in that order, as the official script does; the article regex is matched
// against the punctuation-free string, with Python's Unicode definition of a word character.
#include "evaluation/metrics/squad.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "evaluation/metrics/unicode_text.h"
#include "kernels/common.h"

namespace qforge::eval {

namespace {

// Length of the article (a, an, the) starting at s[i] with word boundaries on both sides,
// or 0. The boundary before i is tested on the original string, as re.sub does.
std::size_t article_at(std::u32string_view s, std::size_t i) {
    if (i > 0 && text::is_word_char(s[i - 1])) {
        return 0;
    }
    for (std::u32string_view art :
         {std::u32string_view(U"a"), std::u32string_view(U"an"), std::u32string_view(U"the")}) {
        if (s.substr(i, art.size()) == art &&
            (i + art.size() == s.size() || !text::is_word_char(s[i + art.size()]))) {
            return art.size();
        }
    }
    return 0;
}

std::vector<std::string> normalized_tokens(std::string_view s) {
    const std::string norm = squad_normalize_answer(s);
    std::vector<std::string> tokens;
    std::size_t start = 0;
    while (start < norm.size()) {
        std::size_t end = norm.find(' ', start);
        if (end == std::string::npos) {
            end = norm.size();
        }
        tokens.push_back(norm.substr(start, end - start));
        start = end + 1;
    }
    return tokens;
}

}  // namespace

std::string squad_normalize_answer(std::string_view raw) {
    const std::u32string lowered = text::lower(text::utf8_decode(raw, "SQuAD answer"));
    std::u32string no_punct;
    no_punct.reserve(lowered.size());
    for (char32_t c : lowered) {
        if (!text::is_ascii_punct(c)) {
            no_punct += c;
        }
    }
    std::u32string no_articles;
    no_articles.reserve(no_punct.size());
    for (std::size_t i = 0; i < no_punct.size();) {
        if (const std::size_t len = article_at(no_punct, i); len > 0) {
            no_articles += U' ';
            i += len;
        } else {
            no_articles += no_punct[i++];
        }
    }
    std::u32string out;
    for (std::u32string_view w : text::split_whitespace(no_articles)) {
        if (!out.empty()) {
            out += U' ';
        }
        out += w;
    }
    return text::utf8_encode(out);
}

double squad_exact_match(std::string_view prediction, std::string_view ground_truth) {
    return squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth) ? 1.0 : 0.0;
}

double squad_f1(std::string_view prediction, std::string_view ground_truth) {
    const auto pred = normalized_tokens(prediction);
    const auto gold = normalized_tokens(ground_truth);
    std::unordered_map<std::string, std::int64_t> gold_counts;
    for (const auto& t : gold) {
        ++gold_counts[t];
    }
    std::int64_t num_same = 0;
    for (const auto& t : pred) {
        if (auto it = gold_counts.find(t); it != gold_counts.end() && it->second > 0) {
            --it->second;
            ++num_same;
        }
    }
    if (num_same == 0) {
        return 0.0;
    }
    const double precision = 1.0 * static_cast<double>(num_same) / static_cast<double>(pred.size());
    const double recall = 1.0 * static_cast<double>(num_same) / static_cast<double>(gold.size());
    return (2 * precision * recall) / (precision + recall);
}

SquadScore squad_score(std::string_view prediction, const std::vector<std::string>& ground_truths) {
    QF_CHECK(!ground_truths.empty(), "SQuAD: no gold answers (expected at least one)");
    SquadScore s;
    for (const auto& gold : ground_truths) {
        s.exact_match = std::max(s.exact_match, squad_exact_match(prediction, gold));
        s.f1 = std::max(s.f1, squad_f1(prediction, gold));
    }
    s.n_scored = 1;
    return s;
}

SquadScore squad_corpus(const std::vector<std::string>& predictions,
                        const std::vector<std::vector<std::string>>& ground_truths) {
    QF_CHECK(!predictions.empty(), "SQuAD: no predictions (expected at least one question)");
    QF_CHECK(predictions.size() == ground_truths.size(),
             "SQuAD: {} predictions but {} gold-answer lists (expected one list per prediction)",
             predictions.size(), ground_truths.size());
    SquadScore total;
    for (std::size_t i = 0; i < predictions.size(); ++i) {
        QF_CHECK(!ground_truths[i].empty(),
                 "SQuAD: question {} has no gold answers (expected at least one)", i);
        const SquadScore s = squad_score(predictions[i], ground_truths[i]);
        total.exact_match += s.exact_match;
        total.f1 += s.f1;
    }
    const auto n = static_cast<double>(predictions.size());
    total.exact_match = 100.0 * total.exact_match / n;
    total.f1 = 100.0 * total.f1 / n;
    total.n_scored = predictions.size();
    return total;
}

}  // namespace qforge::eval
