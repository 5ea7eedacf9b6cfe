// What is here: one JSONL line -> a validated record (alpaca, chat or text), with the
// line's "file:line" in every error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/train/data.h"

namespace qforge::train {

struct DataMessage {
    std::string role;  // "system" | "user" | "assistant"
    std::string content;
};

struct DataRecord {
    DataFormat format = DataFormat::kText;   // kAlpaca, kChat or kText, never kAuto
    std::string instruction, input, output;  // alpaca ("input" may be empty)
    std::vector<DataMessage> messages;       // chat: non-empty, ends with an assistant turn
    std::string text;                        // text
};

// Parses one line. `format` kAuto picks the format from the keys (see DataFormat). Any
// problem throws qforge::Error "<source>: <problem>", e.g.
//   data.jsonl:3: alpaca record has no "output" string
DataRecord data_record_parse(std::string_view line, DataFormat format, std::string_view source);

}  // namespace qforge::train
