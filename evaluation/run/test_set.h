// What is here: the evaluation test set: a JSONL file whose fields (named in the eval config)
// give each example's prompt and its reference answer(s).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qforge::eval {

struct TestSetSpec {
    std::filesystem::path path;
    std::string prompt_field = "prompt";     // a string
    std::string input_field;                 // optional string appended after a blank line
    std::string reference_field = "answer";  // a string or a non-empty list of strings
    std::string id_field;                    // optional; default: the line number
    std::string prompt_template;  // optional, e.g. "Question: {question}\nAnswer:"; {name}
                                  // is replaced by the line's string field `name`
    int64_t limit = 0;            // first `limit` examples (0 = all)
};

struct EvalExample {
    std::string id;
    std::size_t line = 0;  // 1-based line of the JSONL file
    std::string prompt;
    std::vector<std::string> references;  // at least one (may be empty strings)
};

// Reads the JSONL file. Blank lines are skipped. A malformed line, a missing field or one of
// the wrong type is a qforge::Error "<file>:<line>: field \"<name>\" ...".
std::vector<EvalExample> load_test_set(const TestSetSpec& spec);

}  // namespace qforge::eval
