// What is here: BertNormalizer and BertPreTokenizer, following tokenizers' normalizers/bert.rs
// and pre_tokenizers/bert.rs (not the Python BertTokenizer, whose order of lowercase and accent
// stripping and whose whitespace set differ slightly). Character classes come from utf8proc.
#include "runtime/tokenizer/wordpiece_normalizer.h"

#include <cstdint>
#include <cstdlib>
#include <utf8proc.h>

#include "kernels/common.h"

namespace qforge::tokenizer {

namespace {

std::vector<int32_t> decode_utf8(std::string_view s) {
    std::vector<int32_t> cps;
    cps.reserve(s.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    auto left = static_cast<utf8proc_ssize_t>(s.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {  // one bad byte -> U+FFFD, then resync on the next byte
            cps.push_back(0xFFFD);
            p++;
            left--;
            continue;
        }
        cps.push_back(cp);
        p += n;
        left -= n;
    }
    return cps;
}

void append_utf8(std::string& out, int32_t cp) {
    utf8proc_uint8_t buf[4];
    const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

// Rust's char::is_whitespace (the Unicode White_Space property).
bool is_whitespace(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

// tokenizers' is_control: the "Other" categories, except tab, newline and carriage return.
bool is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') {
        return false;
    }
    switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_CC:
        case UTF8PROC_CATEGORY_CF:
        case UTF8PROC_CATEGORY_CN:
        case UTF8PROC_CATEGORY_CO:
        case UTF8PROC_CATEGORY_CS:
            return true;
        default:
            return false;
    }
}

// The CJK Unified Ideograph blocks BERT treats as one word per character (not Hangul or kana).
bool is_chinese_char(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_punctuation(int32_t c) {
    if ((c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
        (c >= 0x7B && c <= 0x7E)) {
        return true;  // ASCII punctuation includes symbols such as $ + < = > ^ ` | ~
    }
    switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_PC:
        case UTF8PROC_CATEGORY_PD:
        case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE:
        case UTF8PROC_CATEGORY_PI:
        case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO:
            return true;
        default:
            return false;
    }
}

// Canonical decomposition with canonical reordering (NFD) of a code point sequence.
std::vector<int32_t> nfd(const std::vector<int32_t>& cps) {
    std::string utf8;
    for (int32_t c : cps) {
        append_utf8(utf8, c);
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                     static_cast<utf8proc_ssize_t>(utf8.size()), &out, UTF8PROC_DECOMPOSE);
    QF_CHECK(n >= 0, "bert_normalize: NFD failed: {}", utf8proc_errmsg(n));
    std::vector<int32_t> result = decode_utf8(
        std::string_view(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n)));
    std::free(out);
    return result;
}

}  // namespace

std::string bert_normalize(std::string_view text, const BertNormalizerOptions& options) {
    std::vector<int32_t> cps = decode_utf8(text);
    std::vector<int32_t> next;
    next.reserve(cps.size());
    if (options.clean_text) {
        for (int32_t c : cps) {
            if (c == 0 || c == 0xFFFD || is_control(c)) {
                continue;
            }
            next.push_back(is_whitespace(c) ? ' ' : c);
        }
        cps.swap(next);
        next.clear();
    }
    if (options.handle_chinese_chars) {
        for (int32_t c : cps) {
            if (is_chinese_char(c)) {
                next.insert(next.end(), {' ', c, ' '});
            } else {
                next.push_back(c);
            }
        }
        cps.swap(next);
        next.clear();
    }
    if (options.strip_accents) {
        for (int32_t c : nfd(cps)) {
            if (utf8proc_category(c) != UTF8PROC_CATEGORY_MN) {
                next.push_back(c);
            }
        }
        cps.swap(next);
        next.clear();
    }
    std::string out;
    out.reserve(text.size());
    for (int32_t c : cps) {
        if (options.lowercase && c == 0x130) {  // the one unconditional multi-char lowercase
            out += 'i';
            append_utf8(out, 0x307);
        } else {
            append_utf8(out, options.lowercase ? utf8proc_tolower(c) : c);
        }
    }
    return out;
}

std::vector<std::string> bert_pre_tokenize(std::string_view normalized) {
    std::vector<std::string> words;
    std::string word;
    auto flush = [&] {
        if (!word.empty()) {
            words.push_back(std::move(word));
            word.clear();
        }
    };
    for (int32_t c : decode_utf8(normalized)) {
        if (is_whitespace(c)) {
            flush();
        } else if (is_punctuation(c)) {
            flush();
            append_utf8(word, c);
            flush();
        } else {
            append_utf8(word, c);
        }
    }
    flush();
    return words;
}

}  // namespace qforge::tokenizer
