// What is here: the BM25 analyzer: Unicode-aware tokenisation (runs of letters, marks and
// numbers), NFC + case folding via utf8proc, and optional English stop words.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qforge::rag {

struct AnalyzerOptions {
    bool stop_words = true;  // drop english_stop_words()
};

// Splits `text` into terms: NFC-normalises and case-folds it, then keeps maximal runs of
// code points in the Unicode categories L* (letters), M* (marks) and N* (numbers); all else
// separates terms ("Don't stop-2024!" -> don, t, stop, 2024). Invalid UTF-8 is a
// qforge::Error.
std::vector<std::string> analyze_terms(std::string_view text, const AnalyzerOptions& options);

// Lucene's English stop set (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, 33 words), sorted.
const std::vector<std::string_view>& english_stop_words();

bool is_english_stop_word(std::string_view term);

}  // namespace qforge::rag
