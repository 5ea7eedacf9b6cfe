// What is here: runtime/train/data_examples.h.
#include "runtime/train/data_examples.h"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>

#include "kernels/common.h"
#include "runtime/train/data_record.h"
#include "runtime/train/data_render.h"
#include "runtime/train/data_tokenize.h"

namespace qforge::train {
namespace {

constexpr size_t kMaxSkippedMessages = 20;

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

Example line_to_example(const Tokenizer& tokenizer, const DataOptions& options,
                        std::string_view line, const std::string& source) {
    const DataRecord record = data_record_parse(line, options.format, source);
    const DataRendering rendering = data_render(record, tokenizer, source);
    const bool responses_only =
        options.train_on_responses_only && record.format != DataFormat::kText;
    return data_tokenize(rendering, tokenizer, responses_only, options.add_eos, source);
}

}  // namespace

std::vector<Example> data_read_examples(const Tokenizer& tokenizer, const DataOptions& options,
                                        DataStats& stats, std::vector<std::string>& skipped) {
    std::vector<Example> examples;
    for (const auto& path : options.files) {
        const std::string name = path.string();
        std::error_code ec;
        QF_CHECK(std::filesystem::exists(path, ec), "{}: no such data file", name);
        QF_CHECK(!std::filesystem::is_directory(path, ec),
                 "{}: is a directory (expected a .jsonl file)", name);
        std::ifstream in(path, std::ios::binary);
        QF_CHECK(in.good(), "{}: cannot open for reading", name);

        std::string line;
        int64_t line_number = 0, lines_in_file = 0;
        while (std::getline(in, line)) {
            ++line_number;
            if (line_number == 1 && line.starts_with("\xEF\xBB\xBF")) {
                line.erase(0, 3);
            }
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            if (is_blank(line)) {
                continue;
            }
            ++lines_in_file;
            ++stats.lines;
            const std::string source = fmt::format("{}:{}", name, line_number);
            try {
                examples.push_back(line_to_example(tokenizer, options, line, source));
                ++stats.examples;
            } catch (const Error& e) {
                // Errors from below (e.g. the tokenizer) do not know the line: name it.
                std::string message = e.what();
                if (!message.starts_with(source + ":")) {
                    message = source + ": " + message;
                }
                if (!options.skip_bad_lines) {
                    throw Error(message);
                }
                ++stats.bad_lines_skipped;
                if (skipped.size() < kMaxSkippedMessages) {
                    skipped.push_back(std::move(message));
                }
            }
        }
        QF_CHECK(!in.bad(), "{}: read error after line {}", name, line_number);
        QF_CHECK(lines_in_file > 0, "{}: empty file (no JSON lines)", name);
    }
    return examples;
}

}  // namespace qforge::train
