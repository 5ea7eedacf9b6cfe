// What is here: Regex, a PCRE2 pattern (UTF + UCP) with the find-all semantics of the
// oniguruma crate that HF tokenizers uses, and the tokenizer.json {"String"|"Regex"} pattern.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/tokenizer/json_where.h"

namespace qforge::tokenizer {

using Span = std::pair<std::size_t, std::size_t>;  // [begin, end) byte offsets

class Regex {
public:
    // Compiles `pattern`; a syntax error throws a qforge::Error naming `where`.
    Regex(std::string_view pattern, const JsonWhere& where);
    // A pattern that matches `literal` exactly (HF escapes {"String": ...} patterns).
    static Regex literal(std::string_view literal, const JsonWhere& where);

    // Every match left to right. Empty matches count, except one that ends where the previous
    // match ended (then the search moves on by one character), as onig's find_iter does.
    // `text` must be valid UTF-8.
    std::vector<Span> find_all(std::string_view text) const;

    const std::string& pattern() const { return pattern_; }

private:
    struct Code;
    std::string pattern_;
    std::shared_ptr<const Code> code_;
};

// A tokenizer.json pattern: {"String": "..."} or {"Regex": "..."}.
Regex regex_from_json(const Json& pattern, const JsonWhere& where);

}  // namespace qforge::tokenizer
