// What is here: runtime/tokenizer/byte_level.h (bytes_to_unicode of GPT-2's encoder.py).
#include "runtime/tokenizer/byte_level.h"

#include <array>
#include <unordered_map>

#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

namespace {

struct ByteMap {
    std::array<std::string, 256> chars;
    std::unordered_map<char32_t, unsigned char> bytes;

    ByteMap() {
        auto keeps_itself = [](int b) {
            return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const char32_t cp = keeps_itself(b) ? static_cast<char32_t>(b) : next++;
            chars[static_cast<std::size_t>(b)] = utf8_encode(cp);
            bytes[cp] = static_cast<unsigned char>(b);
        }
    }
};

const ByteMap& byte_map() {
    static const ByteMap map;
    return map;
}

}  // namespace

const std::string& byte_level_char(unsigned char b) {
    return byte_map().chars[b];
}

std::string byte_level_encode(std::string_view text) {
    const ByteMap& map = byte_map();
    std::string out;
    out.reserve(text.size() * 2);
    for (char c : text) {
        out += map.chars[static_cast<unsigned char>(c)];
    }
    return out;
}

std::optional<unsigned char> byte_level_byte(char32_t c) {
    const ByteMap& map = byte_map();
    const auto it = map.bytes.find(c);
    if (it == map.bytes.end()) {
        return std::nullopt;
    }
    return it->second;
}

}  // namespace qforge::tokenizer
