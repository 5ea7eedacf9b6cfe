// What is here: Decoder, the tokenizer.json "decoder" (Sequence, Replace, ByteFallback, Fuse,
// Strip, ByteLevel, Metaspace) that turns token strings back into text as HF decode_chain does.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "runtime/tokenizer/json_where.h"
#include "runtime/tokenizer/pre_tokenizer.h"
#include "runtime/tokenizer/regex.h"

namespace qforge::tokenizer {

struct DecoderStep {
    enum class Kind { kReplace, kByteFallback, kFuse, kStrip, kByteLevel, kMetaspace };
    Kind kind;
    std::optional<Regex> pattern;  // Replace
    std::string content{};         // Replace: the replacement; Strip: the character to strip
    std::size_t start = 0;         // Strip: at most this many from the start
    std::size_t stop = 0;          //        and this many from the end
    std::string replacement{};     // Metaspace
    PrependScheme prepend_scheme = PrependScheme::kAlways;
};

class Decoder {
public:
    // `j` is the "decoder" value (null: tokens are joined with " ", as HF does).
    static Decoder from_json(const Json& j, const JsonWhere& where);

    std::string decode(std::vector<std::string> tokens) const;

private:
    void add(const Json& j, const JsonWhere& where);
    bool present_ = false;
    std::vector<DecoderStep> steps_;  // a Sequence, flattened
};

}  // namespace qforge::tokenizer
