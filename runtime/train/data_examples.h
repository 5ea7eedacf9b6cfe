// What is here: JSONL files -> examples, one per good line, in file order (neither truncated
// nor split), with the bad-line policy of DataOptions::skip_bad_lines.
#pragma once

#include <string>
#include <vector>

#include "runtime/train/data.h"

namespace qforge::train {

// Reads options.files line by line (blank lines are ignored; CRLF and a UTF-8 BOM are fine),
// parses, renders and tokenizes each. Adds to stats.lines, stats.examples and
// stats.bad_lines_skipped; appends the first 20 skipped lines' messages to `skipped`.
// A missing, unreadable or empty file is always an Error; a bad line is one unless
// skip_bad_lines.
std::vector<Example> data_read_examples(const Tokenizer& tokenizer, const DataOptions& options,
                                        DataStats& stats, std::vector<std::string>& skipped);

}  // namespace qforge::train
