// What is here: the BM25 analyzer: Unicode splitting, case folding, NFC, stop words.
#include <algorithm>
#include <gtest/gtest.h>

#include "kernels/common.h"
#include "rag/text_analyzer.h"

namespace qforge::rag {
namespace {

using Terms = std::vector<std::string>;

TEST(TextAnalyzer, SplitsOnNonLetterNumber) {
    EXPECT_EQ(analyze_terms("Don't stop-2024! x_y  a.b", {false}),
              (Terms{"don", "t", "stop", "2024", "x", "y", "a", "b"}));
    EXPECT_TRUE(analyze_terms("  ...!? \n\t", {false}).empty());
    EXPECT_TRUE(analyze_terms("", {false}).empty());
}

TEST(TextAnalyzer, UnicodeCaseFoldingAndNormalisation) {
    // Case folding beyond ASCII: German sharp s folds to "ss", Greek capitals to small.
    EXPECT_EQ(analyze_terms("STRASSE Straße ΣΟΦΙΑ", {false}),
              (Terms{"strasse", "strasse", "σοφια"}));
    // NFC: "e" + combining acute equals precomposed "é"; marks stay inside the term.
    EXPECT_EQ(analyze_terms("Cafe\xCC\x81", {false}), analyze_terms("CAF\xC3\x89", {false}));
    EXPECT_EQ(analyze_terms("café", {false}), (Terms{"café"}));
    // Non-Latin letters and digits are terms; punctuation of other scripts separates.
    EXPECT_EQ(analyze_terms("東京、2020年。Москва", {false}), (Terms{"東京", "2020年", "москва"}));
    // Superscript/other numbers are numbers (N*).
    EXPECT_EQ(analyze_terms("x² ½", {false}), (Terms{"x²", "½"}));
}

TEST(TextAnalyzer, StopWords) {
    const auto& words = english_stop_words();
    EXPECT_EQ(words.size(), 33u);
    EXPECT_TRUE(std::is_sorted(words.begin(), words.end()));
    EXPECT_EQ(analyze_terms("The cat IS on the Mat", {true}), (Terms{"cat", "mat"}));
    EXPECT_EQ(analyze_terms("The cat IS on the Mat", {false}),
              (Terms{"the", "cat", "is", "on", "the", "mat"}));
    EXPECT_TRUE(is_english_stop_word("with"));
    EXPECT_FALSE(is_english_stop_word("what"));
}

TEST(TextAnalyzer, InvalidUtf8IsAnError) {
    EXPECT_THROW(analyze_terms("ok \xC3\x28 bad", {false}), Error);
}

}  // namespace
}  // namespace qforge::rag
