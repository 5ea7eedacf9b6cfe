// What is here: launcher/config_env.h, shell-style ${VAR:-default} expansion.
#include "launcher/config_env.h"

#include <cstdlib>

#include "kernels/common.h"

namespace qforge::launcher {

namespace {

bool is_name_char(char c, bool first) {
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    return alpha || (!first && c >= '0' && c <= '9');
}

// Index of the '}' closing the "${" whose body starts at `begin`, skipping nested "${...}".
std::size_t find_closing_brace(std::string_view text, std::size_t begin) {
    int depth = 1;
    for (std::size_t i = begin; i < text.size(); ++i) {
        if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
            ++depth;
            ++i;
        } else if (text[i] == '}' && --depth == 0) {
            return i;
        }
    }
    return std::string_view::npos;
}

std::string expand_reference(std::string_view body) {
    std::size_t n = 0;
    while (n < body.size() && is_name_char(body[n], n == 0)) {
        ++n;
    }
    const std::string name(body.substr(0, n));
    const std::string_view rest = body.substr(n);
    if (name.empty() || (!rest.empty() && !rest.starts_with(":-"))) {
        throw Error(fmt::format(
            "bad variable reference \"${{{}}}\": expected ${{NAME}} or ${{NAME:-default}}", body));
    }
    const char* value = std::getenv(name.c_str());
    if (rest.empty()) {
        if (value == nullptr) {
            throw Error(fmt::format(
                "environment variable {} is not set (write ${{{}:-default}} to give a default)",
                name, name));
        }
        return value;
    }
    if (value != nullptr && *value != '\0') {
        return value;
    }
    return expand_config_env(rest.substr(2));
}

}  // namespace

std::string expand_config_env(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '$' || i + 1 == text.size()) {
            out += text[i];
        } else if (text[i + 1] == '$') {
            out += '$';
            ++i;
        } else if (text[i + 1] == '{') {
            const std::size_t close = find_closing_brace(text, i + 2);
            if (close == std::string_view::npos) {
                throw Error(fmt::format("unterminated \"${{\" in \"{}\"", text));
            }
            out += expand_reference(text.substr(i + 2, close - i - 2));
            i = close;
        } else {
            out += '$';
        }
    }
    return out;
}

std::string escape_config_env(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        out += c;
        if (c == '$') {
            out += '$';
        }
    }
    return out;
}

}  // namespace qforge::launcher
