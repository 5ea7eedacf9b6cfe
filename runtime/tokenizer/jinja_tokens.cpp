// What is here: runtime/tokenizer/jinja_tokens.h. The whitespace rules follow Jinja 3's
// lexer with trim_blocks=True and lstrip_blocks=True (transformers' chat template settings).
#include "runtime/tokenizer/jinja_tokens.h"

#include <array>
#include <cctype>

#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

namespace {

using Kind = JinjaToken::Kind;

struct Segment {
    bool is_tag = false;
    std::string text;     // a text segment
    char kind = 0;        // a tag: '{' variable, '%' block, '#' comment
    char open_sign = 0;   // '-' or '+' right after the opening delimiter
    char close_sign = 0;  // '-' or '+' right before the closing delimiter
    std::vector<JinjaToken> inner;
};

bool starts(std::string_view s, std::size_t i, std::string_view p) {
    return s.compare(i, p.size(), p) == 0;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// A string literal at s[i] (a quote), decoded as Jinja does (Python's unicode-escape).
bool lex_string(std::string_view s, std::size_t& i, std::string& out) {
    const char quote = s[i++];
    while (i < s.size()) {
        const char c = s[i];
        if (c == quote) {
            ++i;
            return true;
        }
        if (c != '\\' || i + 1 >= s.size()) {
            out += c;
            ++i;
            continue;
        }
        const char e = s[i + 1];
        i += 2;
        switch (e) {
            case '\\':
                out += '\\';
                break;
            case '\'':
                out += '\'';
                break;
            case '"':
                out += '"';
                break;
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case 'a':
                out += '\a';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'v':
                out += '\v';
                break;
            case '\n':
                break;  // line continuation
            case 'x':
            case 'u':
            case 'U': {
                const std::size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                char32_t cp = 0;
                for (std::size_t k = 0; k < n; ++k) {
                    const int h = i + k < s.size() ? hex_value(s[i + k]) : -1;
                    if (h < 0) {
                        return false;  // Python raises on a truncated escape
                    }
                    cp = cp * 16 + static_cast<char32_t>(h);
                }
                i += n;
                if (cp > 0x10FFFF) {
                    return false;
                }
                utf8_append(out, cp);
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    char32_t cp = static_cast<char32_t>(e - '0');
                    for (int k = 0; k < 2 && i < s.size() && s[i] >= '0' && s[i] <= '7'; ++k) {
                        cp = cp * 8 + static_cast<char32_t>(s[i++] - '0');
                    }
                    utf8_append(out, cp);
                } else {
                    out += '\\';  // unknown escapes stay as written
                    out += e;
                }
        }
    }
    return false;
}

// The tokens inside a {{ }} or {% %} tag, starting after the opening delimiter and sign;
// leaves i after the closing delimiter and sets the closing sign.
bool lex_tag(std::string_view s, std::size_t& i, Segment& tag) {
    static constexpr std::array<std::string_view, 25> kOps = {
        "**", "//", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "|",
        ".",  ",",  ":",  "(",  ")",  "[",  "]", "{", "}", "=", "<", ">"};
    int depth = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
            continue;
        }
        if (tag.kind == '%') {
            for (const char* end : {"-%}", "+%}", "%}"}) {
                if (starts(s, i, end)) {
                    tag.close_sign = end[0] == '%' ? 0 : end[0];
                    i += std::string_view(end).size();
                    return true;
                }
            }
        } else if (depth == 0) {
            for (const char* end : {"-}}", "}}"}) {
                if (starts(s, i, end)) {
                    tag.close_sign = end[0] == '}' ? 0 : end[0];
                    i += std::string_view(end).size();
                    return true;
                }
            }
        }
        if (c == '\'' || c == '"') {
            std::string value;
            if (!lex_string(s, i, value)) {
                return false;
            }
            tag.inner.push_back({Kind::kString, std::move(value)});
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            std::size_t b = i;
            while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '_' ||
                                    (s[i] == '.' && i + 1 < s.size() &&
                                     std::isdigit(static_cast<unsigned char>(s[i + 1]))))) {
                ++i;
            }
            tag.inner.push_back({Kind::kNumber, std::string(s.substr(b, i - b))});
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            std::size_t b = i;
            while (i < s.size() &&
                   (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) {
                ++i;
            }
            tag.inner.push_back({Kind::kName, std::string(s.substr(b, i - b))});
        } else {
            bool matched = false;
            for (std::string_view op : kOps) {
                if (starts(s, i, op)) {
                    depth += op == "{" ? 1 : op == "}" ? -1 : 0;
                    tag.inner.push_back({Kind::kOperator, std::string(op)});
                    i += op.size();
                    matched = true;
                    break;
                }
            }
            if (!matched) {
                return false;  // a character Jinja would not accept here
            }
        }
    }
    return false;
}

// x.name (not a method call) -> x['name'], the same lookup for a dict.
std::vector<JinjaToken> subscript_attributes(const std::vector<JinjaToken>& in) {
    std::vector<JinjaToken> out;
    for (std::size_t k = 0; k < in.size(); ++k) {
        const bool attr =
            in[k].kind == Kind::kOperator && in[k].value == "." && k + 1 < in.size() &&
            in[k + 1].kind == Kind::kName &&
            !(k + 2 < in.size() && in[k + 2].kind == Kind::kOperator && in[k + 2].value == "(");
        if (attr) {
            out.push_back({Kind::kOperator, "["});
            out.push_back({Kind::kString, in[k + 1].value});
            out.push_back({Kind::kOperator, "]"});
            ++k;
        } else {
            out.push_back(in[k]);
        }
    }
    return out;
}

std::size_t python_space_prefix(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t next = i;
        if (!is_python_space(utf8_next(s, next))) {
            break;
        }
        i = next;
    }
    return i;
}

void python_rstrip(std::string& s) {
    std::size_t end = s.size();
    while (end > 0) {
        std::size_t start = end - 1;
        while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
            --start;
        }
        std::size_t i = start;
        if (!is_python_space(utf8_next(s, i))) {
            break;
        }
        end = start;
    }
    s.resize(end);
}

}  // namespace

std::optional<std::vector<JinjaToken>> jinja_tokens(std::string_view source) {
    // Jinja turns every newline sequence into "\n" and drops one trailing newline.
    std::string src;
    for (std::size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            src += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') {
                ++i;
            }
        } else {
            src += source[i];
        }
    }
    if (!src.empty() && src.back() == '\n') {
        src.pop_back();
    }

    // Alternate text and tag segments: text, tag, text, ..., text.
    std::vector<Segment> segs(1);
    std::size_t i = 0;
    while (i < src.size()) {
        const bool opens = src[i] == '{' && i + 1 < src.size() &&
                           (src[i + 1] == '{' || src[i + 1] == '%' || src[i + 1] == '#');
        if (!opens) {
            segs.back().text += src[i++];
            continue;
        }
        Segment tag;
        tag.is_tag = true;
        tag.kind = src[i + 1];
        i += 2;
        if (i < src.size() && (src[i] == '-' || src[i] == '+')) {
            tag.open_sign = src[i++];
        }
        if (tag.kind == '#') {
            const std::size_t end = src.find("#}", i);
            if (end == std::string::npos) {
                return std::nullopt;
            }
            if (end > i && src[end - 1] == '-') {
                tag.close_sign = '-';
            }
            i = end + 2;
        } else if (!lex_tag(src, i, tag)) {
            return std::nullopt;
        }
        segs.push_back(std::move(tag));
        segs.emplace_back();
    }

    // Whitespace control, tag by tag, on the text on either side.
    bool line_starting = true;  // the text before the current tag begins a line
    for (std::size_t k = 1; k < segs.size(); k += 2) {
        Segment& tag = segs[k];
        std::string& before = segs[k - 1].text;
        std::string& after = segs[k + 1].text;
        const bool block_like = tag.kind == '%' || tag.kind == '#';
        if (tag.open_sign == '-') {
            python_rstrip(before);
        } else if (block_like && tag.open_sign != '+') {       // lstrip_blocks
            const std::size_t l_pos = before.rfind('\n') + 1;  // npos + 1 == 0
            if ((l_pos > 0 || line_starting) &&
                before.find_first_not_of(" \t", l_pos) == std::string::npos) {
                before.resize(l_pos);
            }
        }
        std::string consumed;
        if (tag.close_sign == '-') {
            const std::size_t n = python_space_prefix(after);
            consumed = after.substr(0, n);
            after.erase(0, n);
        } else if (block_like && tag.close_sign != '+' && !after.empty() && after[0] == '\n') {
            consumed = "\n";  // trim_blocks
            after.erase(0, 1);
        }
        line_starting = !consumed.empty() && consumed.back() == '\n';
    }

    std::vector<JinjaToken> out;
    for (const Segment& seg : segs) {
        if (!seg.is_tag) {
            if (seg.text.empty()) {
                continue;
            }
            if (!out.empty() && out.back().kind == Kind::kText) {
                out.back().value += seg.text;  // text on both sides of a removed comment
            } else {
                out.push_back({Kind::kText, seg.text});
            }
        } else if (seg.kind != '#') {
            const bool var = seg.kind == '{';
            out.push_back({var ? Kind::kVarBegin : Kind::kBlockBegin, var ? "{{" : "{%"});
            for (JinjaToken& t : subscript_attributes(seg.inner)) {
                out.push_back(std::move(t));
            }
            out.push_back({var ? Kind::kVarEnd : Kind::kBlockEnd, var ? "}}" : "%}"});
        }
    }
    return out;
}

}  // namespace qforge::tokenizer
