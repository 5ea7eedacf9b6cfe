// What is here: a record -> its training text as pieces marked prompt or response, through
// the tokenizer's chat template when it has one, else the built-in Alpaca/chat prompts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/train/data_record.h"

namespace qforge {
class Tokenizer;
}

namespace qforge::train {

struct DataPiece {
    std::string text;
    bool response = false;  // the model learns to produce this piece
};

struct DataRendering {
    std::vector<DataPiece> pieces;   // concatenated in order = the full training text
    bool add_special_tokens = true;  // false for template text, which spells BOS itself
};

// The Stanford Alpaca prompt up to and including "### Response:\n".
std::string data_alpaca_prompt(std::string_view instruction, std::string_view input);

// Alpaca and chat records use the tokenizer's chat template when has_chat_template();
// otherwise the Alpaca prompt + output, or "### {Role}:\n{content}\n\n" per chat turn (the
// response piece of an assistant turn is "{content}\n\n"). Text records: one response piece.
// Errors name `source` ("file:line").
DataRendering data_render(const DataRecord& record, const Tokenizer& tokenizer,
                          std::string_view source);

}  // namespace qforge::train
