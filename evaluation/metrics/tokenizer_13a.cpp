// What is here: tokenizer_13a.h. Each regex pass of sacrebleu's TokenizerRegexp matches a
// fixed-length pattern, so Python's re.sub (leftmost match, resume after it, no overlap) is a
// single left-to-right scan; the scans below reproduce it, including the overlap rules
// ("a.." -> "a . ." comes from pass 2 consuming "a." before pass 3 sees ".").
#include "evaluation/metrics/tokenizer_13a.h"

#include "evaluation/metrics/unicode_text.h"

namespace qforge::eval {

namespace {

bool is_digit(char32_t c) {
    return c >= U'0' && c <= U'9';
}

bool is_period_or_comma(char32_t c) {
    return c == U'.' || c == U',';
}

// [\{-\~\[-\` -\&\(-\+\:-\@\/]: ASCII symbols and the space; not - . , ' or digits.
bool is_13a_symbol(char32_t c) {
    return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
           (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}

void replace_all(std::u32string& s, std::u32string_view from, std::u32string_view to) {
    std::u32string out;
    out.reserve(s.size());
    std::size_t pos = 0;
    while (true) {
        const std::size_t hit = s.find(from, pos);
        if (hit == std::u32string::npos) {
            break;
        }
        out.append(s, pos, hit - pos);
        out.append(to);
        pos = hit + from.size();
    }
    out.append(s, pos, std::u32string::npos);
    s.swap(out);
}

}  // namespace

std::u32string tokenize_13a(std::u32string_view line) {
    std::u32string s(line);
    replace_all(s, U"<skipped>", U"");
    replace_all(s, U"-\n", U"");
    replace_all(s, U"\n", U" ");
    replace_all(s, U"&quot;", U"\"");
    replace_all(s, U"&amp;", U"&");
    replace_all(s, U"&lt;", U"<");
    replace_all(s, U"&gt;", U">");
    s = U" " + s + U" ";

    // pass 1: ([symbol]) -> " \1 "
    std::u32string a;
    a.reserve(s.size() * 2);
    for (char32_t c : s) {
        if (is_13a_symbol(c)) {
            a += U' ';
            a += c;
            a += U' ';
        } else {
            a += c;
        }
    }
    // pass 2: ([^0-9])([\.,]) -> "\1 \2 " (period/comma not preceded by a digit)
    std::u32string b;
    b.reserve(a.size() * 2);
    for (std::size_t i = 0; i < a.size();) {
        if (i + 1 < a.size() && !is_digit(a[i]) && is_period_or_comma(a[i + 1])) {
            b += a[i];
            b += U' ';
            b += a[i + 1];
            b += U' ';
            i += 2;
        } else {
            b += a[i++];
        }
    }
    // pass 3: ([\.,])([^0-9]) -> " \1 \2" (period/comma not followed by a digit)
    std::u32string c3;
    c3.reserve(b.size() * 2);
    for (std::size_t i = 0; i < b.size();) {
        if (i + 1 < b.size() && is_period_or_comma(b[i]) && !is_digit(b[i + 1])) {
            c3 += U' ';
            c3 += b[i];
            c3 += U' ';
            c3 += b[i + 1];
            i += 2;
        } else {
            c3 += b[i++];
        }
    }
    // pass 4: ([0-9])(-) -> "\1 \2 " (dash preceded by a digit)
    std::u32string d;
    d.reserve(c3.size() * 2);
    for (std::size_t i = 0; i < c3.size();) {
        if (i + 1 < c3.size() && is_digit(c3[i]) && c3[i + 1] == U'-') {
            d += c3[i];
            d += U" - ";
            i += 2;
        } else {
            d += c3[i++];
        }
    }
    // ' '.join(line.split())
    std::u32string out;
    out.reserve(d.size());
    for (std::u32string_view w : text::split_whitespace(d)) {
        if (!out.empty()) {
            out += U' ';
        }
        out += w;
    }
    return out;
}

std::string tokenize_13a(std::string_view line) {
    return text::utf8_encode(tokenize_13a(text::utf8_decode(line, "13a tokenizer input")));
}

}  // namespace qforge::eval
