// What is here: runtime/tokenizer/utf8.h.
#include "runtime/tokenizer/utf8.h"

#include <utf8proc.h>

namespace qforge::tokenizer {

std::size_t utf8_len(unsigned char lead) {
    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        return 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        return 4;
    }
    return 1;
}

char32_t utf8_next(std::string_view s, std::size_t& i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const std::size_t n = utf8_len(b0);
    if (n == 1 || i + n > s.size()) {
        ++i;
        return b0;
    }
    char32_t cp = b0 & (0xFF >> (n + 1));
    for (std::size_t k = 1; k < n; ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    i += n;
    return cp;
}

void utf8_append(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string utf8_encode(char32_t cp) {
    std::string out;
    utf8_append(out, cp);
    return out;
}

namespace {

bool is_cont(unsigned char b) {
    return (b & 0xC0) == 0x80;
}

// Length of the valid sequence at s[i], or -(length of the maximal invalid subpart), as
// Rust's Utf8Chunks and the Unicode "best practice" for U+FFFD substitution define it.
long utf8_check_at(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        return 1;
    }
    const std::size_t n = (b0 >= 0xC2 && b0 <= 0xDF)   ? 2
                          : (b0 >= 0xE0 && b0 <= 0xEF) ? 3
                          : (b0 >= 0xF0 && b0 <= 0xF4) ? 4
                                                       : 0;
    if (n == 0) {
        return -1;
    }
    auto at = [&](std::size_t k) -> int {
        return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1;
    };
    // The second byte has a narrower range after E0, ED, F0 and F4.
    const int b1 = at(1);
    unsigned lo = 0x80, hi = 0xBF;
    if (b0 == 0xE0) {
        lo = 0xA0;
    } else if (b0 == 0xED) {
        hi = 0x9F;
    } else if (b0 == 0xF0) {
        lo = 0x90;
    } else if (b0 == 0xF4) {
        hi = 0x8F;
    }
    if (b1 < 0 || static_cast<unsigned>(b1) < lo || static_cast<unsigned>(b1) > hi) {
        return -1;
    }
    for (std::size_t k = 2; k < n; ++k) {
        const int b = at(k);
        if (b < 0 || !is_cont(static_cast<unsigned char>(b))) {
            return -static_cast<long>(k);
        }
    }
    return static_cast<long>(n);
}

}  // namespace

std::size_t utf8_find_invalid(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const long n = utf8_check_at(s, i);
        if (n < 0) {
            return i;
        }
        i += static_cast<std::size_t>(n);
    }
    return std::string_view::npos;
}

std::string utf8_lossy(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    std::size_t i = 0;
    while (i < bytes.size()) {
        const long n = utf8_check_at(bytes, i);
        if (n > 0) {
            out.append(bytes.substr(i, static_cast<std::size_t>(n)));
            i += static_cast<std::size_t>(n);
        } else {
            out += "\xEF\xBF\xBD";
            i += static_cast<std::size_t>(-n);
        }
    }
    return out;
}

bool is_unicode_whitespace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

bool is_python_space(char32_t c) {
    // White_Space plus the ASCII information separators U+001C..U+001F (bidi class B/S).
    return is_unicode_whitespace(c) || (c >= 0x1C && c <= 0x1F);
}

bool is_word_char(char32_t c) {
    if (c < 0x80) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    }
    if (c == 0x200C || c == 0x200D) {  // Join_Control
        return true;
    }
    // Other_Alphabetic symbols (circled and squared Latin letters) count as letters.
    if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
        (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189)) {
        return true;
    }
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
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
        case UTF8PROC_CATEGORY_PC:
            return true;
        default:
            return false;
    }
}

}  // namespace qforge::tokenizer
