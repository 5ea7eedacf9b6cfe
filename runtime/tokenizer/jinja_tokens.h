// What is here: jinja_tokens(), which turns a Jinja chat template into a token stream that
// keeps only what can change its output. Text between tags gets the whitespace control that
// transformers' Jinja environment applies ({%- -%}, trim_blocks, lstrip_blocks, the dropped
// trailing newline); inside tags, whitespace, quote style, string escapes and x.name vs
// x['name'] are normalised away and comments vanish. Two templates with equal streams render
// the same, which is how chat_template.cpp recognises a template family.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::tokenizer {

struct JinjaToken {
    enum class Kind {
        kText,
        kVarBegin,
        kVarEnd,
        kBlockBegin,
        kBlockEnd,
        kName,
        kString,
        kNumber,
        kOperator
    };
    Kind kind;
    std::string value;  // kText: the text; kString: the decoded literal; else the spelling
    bool operator==(const JinjaToken&) const = default;
};

// nullopt when the template cannot be lexed (an unterminated tag, comment or string).
std::optional<std::vector<JinjaToken>> jinja_tokens(std::string_view source);

}  // namespace qforge::tokenizer
