// What is here: PostProcessor, the tokenizer.json "post_processor" for a single sequence
// (TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence): what
// encode(..., add_special_tokens=true) wraps around the ids, e.g. BOS for Llama.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/tokenizer/json_where.h"

namespace qforge::tokenizer {

class PostProcessor {
public:
    // `j` is the "post_processor" value (null: nothing is added).
    static PostProcessor from_json(const Json& j, const JsonWhere& where);

    // `ids` with the special tokens of the single-sequence template around them.
    std::vector<std::int32_t> apply(const std::vector<std::int32_t>& ids) const;

private:
    struct Part {
        bool is_sequence;               // the input ids ("$A")
        std::vector<std::int32_t> ids;  // or these special token ids
    };

    void add(const Json& j, const JsonWhere& where);
    std::vector<std::vector<Part>> templates_;  // applied in order (a Sequence)
};

}  // namespace qforge::tokenizer
