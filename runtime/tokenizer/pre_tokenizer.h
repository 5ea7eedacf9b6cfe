// What is here: PreTokenizer, the tokenizer.json "pre_tokenizer" (Sequence, Split with a
// PCRE2 regex or a literal, ByteLevel with or without the GPT-2 regex, Metaspace in its
// prepend_scheme and legacy add_prefix_space forms) that cuts normalized text into words.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/json_where.h"
#include "runtime/tokenizer/regex.h"

namespace qforge::tokenizer {

// What happens to a delimiter matched by Split (HF SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// When Metaspace puts the replacement character in front of a piece.
enum class PrependScheme { kAlways, kFirst, kNever };

// One piece of text between pre-tokenization steps. `at_origin`: the piece starts at offset 0
// of the original input (Metaspace's "first" scheme prepends only there).
struct PreSplit {
    std::string text;
    bool at_origin = false;
};

struct PreTokenizerStep {
    enum class Kind { kSplit, kByteLevel, kMetaspace };
    Kind kind;
    // Split
    std::optional<Regex> pattern;
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    // ByteLevel
    bool add_prefix_space = false;
    bool use_regex = false;
    // Metaspace
    std::string replacement{};
    PrependScheme prepend_scheme = PrependScheme::kAlways;
    bool split = true;
};

// Reads a Metaspace component's prepend scheme: "prepend_scheme" when present, else the
// legacy "add_prefix_space" (true, the default: always; false: never).
PrependScheme metaspace_prepend_scheme(const Json& j, const JsonWhere& where);

class PreTokenizer {
public:
    // `j` is the "pre_tokenizer" value (null: the whole piece is one word).
    static PreTokenizer from_json(const Json& j, const JsonWhere& where);

    // Appends the non-empty words of `piece` to `out`.
    void pre_tokenize(PreSplit piece, std::vector<std::string>& out) const;

private:
    void add(const Json& j, const JsonWhere& where);
    std::vector<PreTokenizerStep> steps_;
};

// The pieces of `text` that `matches` (sorted, non-overlapping) cut it into, per `behavior`;
// empty pieces are kept (callers drop them), as HF NormalizedString::split does.
std::vector<Span> split_on_matches(std::string_view text, const std::vector<Span>& matches,
                                   SplitBehavior behavior, bool invert);

}  // namespace qforge::tokenizer
