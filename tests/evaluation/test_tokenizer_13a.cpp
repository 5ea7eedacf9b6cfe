// What is here: the 13a tokenizer on hand-worked cases that exercise each mteval regex and
// the overlap rules of Python's re.sub (the golden test covers hundreds of real segments).
#include <gtest/gtest.h>

#include "evaluation/metrics/tokenizer_13a.h"
#include "kernels/common.h"

namespace qforge::eval {
namespace {

TEST(Tokenizer13a, SplitsSymbolsButNotApostrophesOrDashes) {
    EXPECT_EQ(tokenize_13a(std::string_view("Hello, world! (hi) [x] {y} a/b c|d $5 don't co-op")),
              "Hello , world ! ( hi ) [ x ] { y } a / b c | d $ 5 don't co-op");
}

TEST(Tokenizer13a, PeriodsAndCommasAroundDigits) {
    // kept inside numbers, split elsewhere
    EXPECT_EQ(tokenize_13a(std::string_view("It costs 3.14, not 1,000.")),
              "It costs 3.14 , not 1,000 .");
    EXPECT_EQ(tokenize_13a(std::string_view("end.")), "end .");
    // a leading ".5": the space before it is a non-digit, so pass 2 splits it off
    EXPECT_EQ(tokenize_13a(std::string_view(".5 and 5.")), ". 5 and 5 .");
    // re.sub does not overlap: "a.." -> "a . ." needs passes 2 and 3 together
    EXPECT_EQ(tokenize_13a(std::string_view("a..b")), "a . . b");
    EXPECT_EQ(tokenize_13a(std::string_view("U.S.A.")), "U . S . A .");
}

TEST(Tokenizer13a, DashAfterDigit) {
    EXPECT_EQ(tokenize_13a(std::string_view("2019-2020 and x-5 and 5-x")),
              "2019 - 2020 and x-5 and 5 - x");
}

TEST(Tokenizer13a, UnescapesEntitiesInSacrebleuOrder) {
    // &amp; is unescaped before &lt;, so "&amp;lt;" ends as "<", but "&amp;quot;" stays
    // "&quot;" because &quot; was handled first.
    EXPECT_EQ(tokenize_13a(std::string_view("&quot;q&quot; &amp; &lt;t&gt; &amp;lt; &amp;quot;")),
              "\" q \" & < t > < & quot ;");
}

TEST(Tokenizer13a, SkippedMarkersAndLineBreaks) {
    EXPECT_EQ(tokenize_13a(std::string_view("<skipped>a hyph-\nen\nnext")), "a hyphen next");
}

TEST(Tokenizer13a, UnicodeWhitespaceAndText) {
    EXPECT_EQ(tokenize_13a(std::string_view("caf\xc3\xa9\xe3\x80\x80na\xc3\xafve\xc2\xa0x.")),
              "caf\xc3\xa9 na\xc3\xafve x .");
    EXPECT_EQ(tokenize_13a(std::string_view("")), "");
    EXPECT_EQ(tokenize_13a(std::string_view(" \t\n ")), "");
}

TEST(Tokenizer13a, RejectsInvalidUtf8) {
    EXPECT_THROW(tokenize_13a(std::string_view("a\xff")), Error);
}

}  // namespace
}  // namespace qforge::eval
