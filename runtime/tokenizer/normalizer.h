// What is here: Normalizer, the tokenizer.json "normalizer" (Sequence, Prepend, Replace,
// NFC/NFD/NFKC/NFKD via utf8proc, Lowercase, Strip) applied to one piece of input text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/json_where.h"
#include "runtime/tokenizer/regex.h"

namespace qforge::tokenizer {

struct NormalizerStep {
    enum class Kind { kPrepend, kReplace, kNfc, kNfd, kNfkc, kNfkd, kLowercase, kStrip };
    Kind kind;
    std::string text;              // Prepend: the prefix; Replace: the replacement
    std::optional<Regex> pattern;  // Replace
    bool strip_left = false;       // Strip
    bool strip_right = false;
};

class Normalizer {
public:
    // `j` is the "normalizer" value (null: none). Nested Sequences are flattened, since each
    // step works on the whole string in turn.
    static Normalizer from_json(const Json& j, const JsonWhere& where);

    std::string normalize(std::string_view text) const;

    bool empty() const { return steps_.empty(); }

private:
    void add(const Json& j, const JsonWhere& where);
    std::vector<NormalizerStep> steps_;
};

// Replaces every match of `pattern` in `text` by `content` (HF NormalizedString::replace).
std::string regex_replace_all(std::string_view text, const Regex& pattern,
                              std::string_view content);

}  // namespace qforge::tokenizer
