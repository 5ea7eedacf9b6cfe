// What is here: the few pieces of Python's str semantics that the text metrics depend on
// (UTF-8 <-> code points, str.isspace/split/rstrip, str.lower, the regex \w class), built on
// utf8proc so that qforge scores Unicode text exactly as sacrebleu and the SQuAD script do.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qforge::eval::text {

// Decodes UTF-8 into code points. Invalid input (bad lead byte, truncated sequence, overlong
// form, surrogate, > U+10FFFF) throws qforge::Error naming `what` and the byte offset.
std::u32string utf8_decode(std::string_view s, std::string_view what);

std::string utf8_encode(std::u32string_view s);

// Python's str.isspace() for one code point: category Zs or bidi class B, S or WS.
bool is_space(char32_t c);

// Python's \w for str patterns: letters, numbers (Nd, Nl, No) and '_'.
bool is_word_char(char32_t c);

// Python's str.split() with no argument: runs of whitespace separate, no empty pieces.
std::vector<std::u32string_view> split_whitespace(std::u32string_view s);

// Python's str.rstrip() with no argument.
std::u32string_view rstrip_whitespace(std::u32string_view s);

// Python's str.lower(): simple lowercase mappings, U+0130 -> "i\u0307", and the Final_Sigma
// rule for U+03A3 (cased/case-ignorable taken from utf8proc's categories and case tables).
std::u32string lower(std::u32string_view s);

// Python's string.punctuation: the 32 ASCII punctuation characters.
bool is_ascii_punct(char32_t c);

// The Unicode version of the character tables in use (utf8proc's), e.g. "15.0.0".
std::string unicode_version();

// False for code points that utf8proc's tables leave unassigned (category Cn).
bool is_assigned(char32_t c);

}  // namespace qforge::eval::text
