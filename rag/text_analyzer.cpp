// What is here: the BM25 analyzer (see rag/text_analyzer.h).
#include "rag/text_analyzer.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utf8proc.h>

#include "kernels/common.h"

namespace qforge::rag {

namespace {

bool is_term_char(utf8proc_int32_t cp) {
    switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
            return true;
        default:
            return false;
    }
}

}  // namespace

const std::vector<std::string_view>& english_stop_words() {
    static const std::vector<std::string_view> words = {
        "a",   "an",    "and",  "are",   "as",    "at",   "be",   "but", "by",  "for",  "if",
        "in",  "into",  "is",   "it",    "no",    "not",  "of",   "on",  "or",  "such", "that",
        "the", "their", "then", "there", "these", "they", "this", "to",  "was", "will", "with"};
    return words;
}

bool is_english_stop_word(std::string_view term) {
    const auto& words = english_stop_words();
    return std::binary_search(words.begin(), words.end(), term);
}

std::vector<std::string> analyze_terms(std::string_view text, const AnalyzerOptions& options) {
    std::vector<std::string> terms;
    if (text.empty()) {
        return terms;
    }
    utf8proc_uint8_t* folded = nullptr;
    const auto n = utf8proc_map(
        reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
        static_cast<utf8proc_ssize_t>(text.size()), &folded,
        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
    QF_CHECK(n >= 0, "text analysis: {} in the input text", utf8proc_errmsg(n));
    const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(folded, &std::free);

    std::string current;
    auto flush = [&] {
        if (!current.empty() && !(options.stop_words && is_english_stop_word(current))) {
            terms.push_back(current);
        }
        current.clear();
    };
    utf8proc_ssize_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp = 0;
        const auto len = utf8proc_iterate(folded + i, n - i, &cp);
        QF_CHECK(len > 0, "text analysis: invalid UTF-8 at byte {}", i);
        if (is_term_char(cp)) {
            current.append(reinterpret_cast<const char*>(folded + i),
                           static_cast<std::size_t>(len));
        } else {
            flush();
        }
        i += len;
    }
    flush();
    return terms;
}

}  // namespace qforge::rag
