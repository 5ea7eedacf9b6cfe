// What is here: the GPT-2 byte <-> unicode map of byte-level BPE (every byte becomes a
// printable character: '!'..'~', '¡'..'¬', '®'..'ÿ' map to themselves, the other 68 bytes to
// U+0100 onwards in byte order), used by the ByteLevel pre-tokenizer and decoder.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qforge::tokenizer {

// The UTF-8 text of the character that stands for byte `b`.
const std::string& byte_level_char(unsigned char b);

// Maps every byte of `text` to its character.
std::string byte_level_encode(std::string_view text);

// The byte a character stands for, or nullopt when it is not one of the 256.
std::optional<unsigned char> byte_level_byte(char32_t c);

}  // namespace qforge::tokenizer
