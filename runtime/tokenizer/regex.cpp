// What is here: runtime/tokenizer/regex.h on PCRE2. Patterns are JIT-compiled when the
// library supports it; a match that exhausts the JIT stack is retried by the interpreter.
#include "runtime/tokenizer/regex.h"

#include <cctype>
#include <pcre2.h>

#include "kernels/common.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

struct Regex::Code {
    pcre2_code* code = nullptr;
    bool jit = false;

    ~Code() { pcre2_code_free(code); }
};

namespace {

struct MatchData {
    pcre2_match_data* data;

    explicit MatchData(const pcre2_code* code)
        : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
        QF_CHECK(data != nullptr, "PCRE2: out of memory creating match data");
    }

    ~MatchData() { pcre2_match_data_free(data); }

    MatchData(const MatchData&) = delete;
    MatchData& operator=(const MatchData&) = delete;
};

std::string pcre2_message(int code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(code, buf, sizeof(buf));
    return reinterpret_cast<const char*>(buf);
}

}  // namespace

namespace {

// The Unicode White_Space characters: what \s means to oniguruma. PCRE2's \s (with UCP) also
// takes U+180E, which left White_Space in Unicode 6.3.
constexpr std::string_view kWhiteSpace =
    R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// `pattern` with \s and \S spelled out so that PCRE2 matches what oniguruma matches.
std::string onig_compatible(std::string_view p) {
    std::string out;
    bool in_class = false;
    for (std::size_t i = 0; i < p.size();) {
        const char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            const char d = p[i + 1];
            if (d == 'Q') {  // \Q...\E is literal text
                const std::size_t end = p.find("\\E", i + 2);
                const std::size_t stop = end == std::string_view::npos ? p.size() : end + 2;
                out.append(p.substr(i, stop - i));
                i = stop;
            } else if (d == 's') {
                out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
                i += 2;
            } else if (d == 'S') {
                out +=
                    in_class ? std::string("\\S\\x{180E}") : "[^" + std::string(kWhiteSpace) + "]";
                i += 2;
            } else {
                out.append(p.substr(i, 2));
                i += 2;
            }
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            out += c;
            ++i;
            if (i < p.size() && p[i] == '^') {
                out += p[i++];
            }
            if (i < p.size() && p[i] == ']') {  // a leading ']' is literal
                out += p[i++];
            }
            continue;
        }
        if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
            const std::size_t end = p.find(":]", i + 2);
            if (end != std::string_view::npos) {
                out.append(p.substr(i, end + 2 - i));
                i = end + 2;
                continue;
            }
        }
        if (in_class && c == ']') {
            in_class = false;
        }
        out += c;
        ++i;
    }
    return out;
}

}  // namespace

Regex::Regex(std::string_view pattern, const JsonWhere& where) : pattern_(pattern) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    auto code = std::make_shared<Code>();
    const std::string compiled = onig_compatible(pattern);
    code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(),
                               PCRE2_UTF | PCRE2_UCP, &err, &offset, nullptr);
    if (code->code == nullptr) {
        where.fail(fmt::format("regex /{}/ does not compile (at offset {}): {}", pattern, offset,
                               pcre2_message(err)));
    }
    code->jit = pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE) == 0;
    code_ = std::move(code);
}

Regex Regex::literal(std::string_view literal, const JsonWhere& where) {
    std::string escaped;
    for (char c : literal) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x80 && !std::isalnum(u)) {
            escaped += '\\';
        }
        escaped += c;
    }
    return Regex(escaped, where);
}

std::vector<Span> Regex::find_all(std::string_view text) const {
    std::vector<Span> out;
    MatchData md(code_->code);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t search_from = 0;
    bool have_last = false;
    std::size_t last_end = 0;
    while (search_from <= text.size()) {
        int rc = pcre2_match(code_->code, subject, text.size(), search_from, PCRE2_NO_UTF_CHECK,
                             md.data, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
            rc = pcre2_match(code_->code, subject, text.size(), search_from,
                             PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md.data, nullptr);
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
            break;
        }
        QF_CHECK(rc >= 0, "regex /{}/: match failed: {}", pattern_, pcre2_message(rc));
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
        const std::size_t s = ov[0], e = ov[1];
        if (s == e && have_last && last_end == e) {
            // No empty match right after the previous one: step over one character.
            search_from += search_from < text.size()
                               ? utf8_len(static_cast<unsigned char>(text[search_from]))
                               : 1;
            continue;
        }
        out.emplace_back(s, e);
        have_last = true;
        last_end = e;
        search_from = e;
    }
    return out;
}

Regex regex_from_json(const Json& pattern, const JsonWhere& where) {
    if (pattern.is_object() && pattern.size() == 1) {
        if (pattern.contains("String") && pattern["String"].is_string()) {
            return Regex::literal(pattern["String"].get<std::string>(), where.at("String"));
        }
        if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
            return Regex(pattern["Regex"].get<std::string>(), where.at("Regex"));
        }
    }
    where.fail(
        fmt::format("should be {{\"String\": ...}} or {{\"Regex\": ...}}, got {}", pattern.dump()));
}

}  // namespace qforge::tokenizer
