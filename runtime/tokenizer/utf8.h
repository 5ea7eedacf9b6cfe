// What is here: the UTF-8 and Unicode helpers the tokenizer needs: code point decode/encode,
// validation, Rust's from_utf8_lossy, and the character classes of Rust and Python that HF
// tokenizers and Jinja rely on (White_Space, regex \w, str.isspace).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qforge::tokenizer {

// Byte length of the UTF-8 sequence that starts with `lead` (1 for a stray byte).
std::size_t utf8_len(unsigned char lead);

// Decodes the code point at s[i] and moves i past it. `s` must be valid UTF-8.
char32_t utf8_next(std::string_view s, std::size_t& i);

void utf8_append(std::string& out, char32_t cp);

std::string utf8_encode(char32_t cp);

// Offset of the first byte that does not start a valid UTF-8 sequence, or npos.
std::size_t utf8_find_invalid(std::string_view s);

// Rust's String::from_utf8_lossy: every maximal invalid subpart becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// The Unicode White_Space property: Rust char::is_whitespace and regex \s.
bool is_unicode_whitespace(char32_t c);

// Python's str.isspace(), which str.strip() and Jinja's trim use.
bool is_python_space(char32_t c);

// Rust regex \w: Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control.
bool is_word_char(char32_t c);

}  // namespace qforge::tokenizer
