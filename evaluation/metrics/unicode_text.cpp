// What is here: unicode_text.h. The whitespace and word-character sets follow CPython's
// unicodectype.c definitions; utf8proc supplies the per-code-point categories.
#include "evaluation/metrics/unicode_text.h"

#include <utf8proc.h>

#include "kernels/common.h"

namespace qforge::eval::text {

std::u32string utf8_decode(std::string_view s, std::string_view what) {
    std::u32string out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    std::size_t i = 0;
    while (i < s.size()) {
        if (p[i] < 0x80) {  // ASCII fast path
            out.push_back(p[i]);
            ++i;
            continue;
        }
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t len =
            utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
        QF_CHECK(len > 0, "{}: invalid UTF-8 at byte {} (expected a well-formed UTF-8 string)",
                 what, i);
        out.push_back(static_cast<char32_t>(cp));
        i += static_cast<std::size_t>(len);
    }
    return out;
}

std::string utf8_encode(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    utf8proc_uint8_t buf[4];
    for (char32_t c : s) {
        const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
        out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
    }
    return out;
}

bool is_space(char32_t c) {
    if (c < 0x80) {
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    }
    const auto* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
    return prop->category == UTF8PROC_CATEGORY_ZS || prop->bidi_class == UTF8PROC_BIDI_CLASS_B ||
           prop->bidi_class == UTF8PROC_BIDI_CLASS_S || prop->bidi_class == UTF8PROC_BIDI_CLASS_WS;
}

bool is_word_char(char32_t c) {
    if (c < 0x80) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    }
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
            return true;
        default:
            return false;
    }
}

std::vector<std::u32string_view> split_whitespace(std::u32string_view s) {
    std::vector<std::u32string_view> words;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) {
            ++i;
        }
        const std::size_t start = i;
        while (i < s.size() && !is_space(s[i])) {
            ++i;
        }
        if (i > start) {
            words.push_back(s.substr(start, i - start));
        }
    }
    return words;
}

std::u32string_view rstrip_whitespace(std::u32string_view s) {
    std::size_t n = s.size();
    while (n > 0 && is_space(s[n - 1])) {
        --n;
    }
    return s.substr(0, n);
}

std::string unicode_version() {
    return utf8proc_unicode_version();
}

bool is_assigned(char32_t c) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(c)) != UTF8PROC_CATEGORY_CN;
}

bool is_ascii_punct(char32_t c) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

namespace {

// Unicode "Cased": Lowercase, Uppercase or Lt. Letters with a case mapping stand in for the
// derived Other_Lowercase/Other_Uppercase properties, which utf8proc does not expose.
bool is_cased(char32_t c) {
    const auto cp = static_cast<utf8proc_int32_t>(c);
    const auto cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT || utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
}

// Unicode "Case_Ignorable": Mn, Me, Cf, Lm, Sk, plus Word_Break MidLetter/MidNumLet/Single_Quote.
bool is_case_ignorable(char32_t c) {
    switch (c) {
        case 0x27:
        case 0x2E:
        case 0x3A:
        case 0xB7:
        case 0x387:
        case 0x55F:
        case 0x5F4:
        case 0x2018:
        case 0x2019:
        case 0x2024:
        case 0x2027:
        case 0xFE13:
        case 0xFE52:
        case 0xFE55:
        case 0xFF07:
        case 0xFF0E:
        case 0xFF1A:
            return true;
        default:
            break;
    }
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_ME:
        case UTF8PROC_CATEGORY_CF:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_SK:
            return true;
        default:
            return false;
    }
}

// CPython's handle_capital_sigma(): final sigma when preceded by a cased letter (skipping
// case-ignorables) and not followed by one.
bool is_final_sigma(std::u32string_view s, std::size_t i) {
    std::size_t j = i;
    bool before = false;
    while (j > 0) {
        --j;
        if (!is_case_ignorable(s[j])) {
            before = is_cased(s[j]);
            break;
        }
    }
    if (!before) {
        return false;
    }
    for (j = i + 1; j < s.size(); ++j) {
        if (!is_case_ignorable(s[j])) {
            return !is_cased(s[j]);
        }
    }
    return true;
}

}  // namespace

std::u32string lower(std::u32string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char32_t c = s[i];
        if (c < 0x80) {
            out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (c == 0x130) {  // the one unconditional multi-character lowercase mapping
            out.push_back(U'i');
            out.push_back(0x307);
        } else if (c == 0x3A3) {
            out.push_back(is_final_sigma(s, i) ? 0x3C2 : 0x3C3);
        } else {
            out.push_back(
                static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
        }
    }
    return out;
}

}  // namespace qforge::eval::text
