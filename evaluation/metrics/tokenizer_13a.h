// What is here: sacrebleu's default BLEU tokenizer "13a" (mteval-v13a.pl), byte-for-byte.
#pragma once

#include <string>
#include <string_view>

namespace qforge::eval {

// Tokenizes one segment as sacrebleu's Tokenizer13a does: drops "<skipped>", joins "-\n",
// turns "\n" into a space, unescapes &quot; &amp; &lt; &gt; (in that order), then applies the
// four mteval regexes and collapses whitespace (Python str.split semantics) to single spaces.
std::u32string tokenize_13a(std::u32string_view line);

// UTF-8 in, UTF-8 out; invalid UTF-8 throws qforge::Error.
std::string tokenize_13a(std::string_view line);

}  // namespace qforge::eval
