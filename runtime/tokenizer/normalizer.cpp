// What is here: runtime/tokenizer/normalizer.h.
#include "runtime/tokenizer/normalizer.h"

#include <cstdlib>
#include <utf8proc.h>

#include "kernels/common.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

namespace {

std::string unicode_normalize(std::string_view s, int options) {
    if (s.empty()) {
        return {};
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                     static_cast<utf8proc_ssize_t>(s.size()), &out,
                     static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
    QF_CHECK(n >= 0, "utf8proc normalization failed: {}", utf8proc_errmsg(n));
    std::string result(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
    std::free(out);
    return result;
}

// Rust's char::to_lowercase, one character at a time (HF's Lowercase normalizer). The only
// unconditional multi-character lowercase mapping is U+0130 -> "i\u0307".
std::string lowercase(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const char32_t c = utf8_next(s, i);
        if (c == 0x130) {
            out += "i\xCC\x87";
        } else {
            utf8_append(out,
                        static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
        }
    }
    return out;
}

std::string strip(std::string_view s, bool left, bool right) {
    std::size_t begin = 0, end = s.size();
    if (left) {
        while (begin < end) {
            std::size_t i = begin;
            if (!is_unicode_whitespace(utf8_next(s, i))) {
                break;
            }
            begin = i;
        }
    }
    if (right) {
        while (end > begin) {
            std::size_t start = end - 1;
            while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
                --start;
            }
            std::size_t i = start;
            if (!is_unicode_whitespace(utf8_next(s, i))) {
                break;
            }
            end = start;
        }
    }
    return std::string(s.substr(begin, end - begin));
}

}  // namespace

std::string regex_replace_all(std::string_view text, const Regex& pattern,
                              std::string_view content) {
    std::string out;
    out.reserve(text.size());
    std::size_t last = 0;
    for (const auto& [b, e] : pattern.find_all(text)) {
        out.append(text.substr(last, b - last));
        out.append(content);
        last = e;
    }
    out.append(text.substr(last));
    return out;
}

Normalizer Normalizer::from_json(const Json& j, const JsonWhere& where) {
    Normalizer n;
    if (!j.is_null()) {
        n.add(j, where);
    }
    return n;
}

void Normalizer::add(const Json& j, const JsonWhere& where) {
    using Kind = NormalizerStep::Kind;
    const std::string type = where.get_type(j);
    if (type == "Sequence") {
        const Json& list = where.get_array(j, "normalizers");
        for (std::size_t i = 0; i < list.size(); ++i) {
            add(list[i], where.at("normalizers").at(i));
        }
    } else if (type == "Prepend") {
        steps_.push_back({Kind::kPrepend, where.get_string(j, "prepend"), std::nullopt});
    } else if (type == "Replace") {
        steps_.push_back({Kind::kReplace, where.get_string(j, "content"),
                          regex_from_json(where.get(j, "pattern"), where.at("pattern"))});
    } else if (type == "NFC") {
        steps_.push_back({Kind::kNfc, {}, std::nullopt});
    } else if (type == "NFD") {
        steps_.push_back({Kind::kNfd, {}, std::nullopt});
    } else if (type == "NFKC") {
        steps_.push_back({Kind::kNfkc, {}, std::nullopt});
    } else if (type == "NFKD") {
        steps_.push_back({Kind::kNfkd, {}, std::nullopt});
    } else if (type == "Lowercase") {
        steps_.push_back({Kind::kLowercase, {}, std::nullopt});
    } else if (type == "Strip") {
        NormalizerStep step{Kind::kStrip, {}, std::nullopt};
        step.strip_left = where.get_bool(j, "strip_left", true);
        step.strip_right = where.get_bool(j, "strip_right", true);
        steps_.push_back(std::move(step));
    } else {
        where.at("type").fail(fmt::format(
            "\"{}\" is not supported (expected Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, "
            "Lowercase or Strip)",
            type));
    }
}

std::string Normalizer::normalize(std::string_view text) const {
    using Kind = NormalizerStep::Kind;
    std::string s(text);
    for (const NormalizerStep& step : steps_) {
        switch (step.kind) {
            case Kind::kPrepend:
                if (!s.empty()) {  // HF prepends only to a non-empty string
                    s = step.text + s;
                }
                break;
            case Kind::kReplace:
                s = regex_replace_all(s, *step.pattern, step.text);
                break;
            case Kind::kNfc:
                s = unicode_normalize(s, UTF8PROC_COMPOSE);
                break;
            case Kind::kNfd:
                s = unicode_normalize(s, UTF8PROC_DECOMPOSE);
                break;
            case Kind::kNfkc:
                s = unicode_normalize(s, UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
                break;
            case Kind::kNfkd:
                s = unicode_normalize(s, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
                break;
            case Kind::kLowercase:
                s = lowercase(s);
                break;
            case Kind::kStrip:
                s = strip(s, step.strip_left, step.strip_right);
                break;
        }
    }
    return s;
}

}  // namespace qforge::tokenizer
