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

Regex::Regex(std::string_view pattern, const JsonWhere& where) : pattern_(pattern) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    auto code = std::make_shared<Code>();
    code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
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
