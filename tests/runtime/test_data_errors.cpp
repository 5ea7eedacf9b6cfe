// What is here: load_dataset's errors (one qforge::Error naming file:line and the problem),
// skip mode's counts, and the options checks.
#include <gtest/gtest.h>

#include "kernels/common.h"
#include "test_data_stories.h"

namespace qforge::train {
namespace {

const char* kGood = R"({"instruction":"Name a color.","output":"Red."})";

DataOptions options_for(std::vector<std::filesystem::path> files) {
    DataOptions o;
    o.files = std::move(files);
    o.validation_fraction = 0.0;
    o.seq_len = 64;
    return o;
}

// The message of the Error load_dataset throws ("" when it does not throw).
std::string load_error(const DataOptions& o) {
    try {
        load_dataset(test::stories_tokenizer(), o);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

#define EXPECT_CONTAINS(text, part) \
    EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

TEST(DataErrors, FirstBadLineNamesFileAndLine) {
    test::TempDir dir;
    // Line 3 is blank (skipped, still counted for numbering); line 4 is the first bad one.
    const auto file = test::write_text_file(
        dir.path() / "data.jsonl", std::string(kGood) + "\n" + kGood + "\n\n" +
                                       R"({"instruction":"a","input":"b"})" + "\n" + "{broken\n");
    const std::string message = load_error(options_for({file}));
    EXPECT_EQ(message.rfind(file.string() + ":4: alpaca record has no \"output\" string", 0), 0u)
        << message;
}

TEST(DataErrors, EachKindOfBadLine) {
    struct Case {
        std::string line, expected;
    };

    const std::vector<Case> cases = {
        {R"({"instruction": "a", "output": "b")", ":1: invalid JSON (parse error at column"},
        {R"("just a string")", ":1: expected a JSON object, got string"},
        {R"({"instruction":"a","input":"b"})", ":1: alpaca record has no \"output\" string"},
        {R"({"messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]})",
         ":1: chat message 2 has role \"robot\" (expected system, user or assistant)"},
        {R"({"messages":[{"role":"user","content":"a"}]})",
         ":1: chat record ends with a \"user\" message"},
        {R"({"prompt":"a","answer":"b"})", ":1: record matches no format"},
        {R"({"text":""})", ":1: text record has an empty \"text\""},
    };
    test::TempDir dir;
    for (const auto& c : cases) {
        const auto file = test::write_text_file(dir.path() / "bad.jsonl", c.line + "\n");
        EXPECT_CONTAINS(load_error(options_for({file})), file.string() + c.expected);
    }
}

// With add_eos off, an alpaca record with an empty output has nothing to learn.
TEST(DataErrors, ExampleWithoutResponseTokens) {
    test::TempDir dir;
    const auto file = test::write_text_file(
        dir.path() / "d.jsonl",
        std::string(kGood) + "\n" + R"({"instruction":"Say nothing.","output":""})");
    auto o = options_for({file});
    EXPECT_EQ(load_error(o), "");  // with EOS the empty answer still teaches "stop here"
    o.add_eos = false;
    EXPECT_CONTAINS(load_error(o), file.string() + ":2: example has no response tokens");
}

TEST(DataErrors, MissingEmptyAndDirectoryFiles) {
    test::TempDir dir;
    const auto good = test::write_text_file(dir.path() / "good.jsonl", std::string(kGood) + "\n");
    const auto missing = dir.path() / "missing.jsonl";
    EXPECT_CONTAINS(load_error(options_for({good, missing})),
                    missing.string() + ": no such data file");
    const auto empty = test::write_text_file(dir.path() / "empty.jsonl", "");
    EXPECT_CONTAINS(load_error(options_for({good, empty})),
                    empty.string() + ": empty file (no JSON lines)");
    const auto blank = test::write_text_file(dir.path() / "blank.jsonl", "\n  \n\r\n");
    EXPECT_CONTAINS(load_error(options_for({blank})), blank.string() + ": empty file");
    EXPECT_CONTAINS(load_error(options_for({dir.path()})), "is a directory");
    auto o = options_for({good, empty});
    o.skip_bad_lines = true;  // a whole file missing its content is never "a bad line"
    EXPECT_CONTAINS(load_error(o), "empty file");
}

TEST(DataErrors, SkipModeCountsAndKeepsTheGoodLines) {
    test::TempDir dir;
    const auto a = test::write_text_file(
        dir.path() / "a.jsonl", std::string(kGood) + "\n" + "not json\n" + kGood + "\n" +
                                    R"({"messages":[{"role":"bot","content":"x"}]})" + "\n");
    const auto b = test::write_text_file(dir.path() / "b.jsonl",
                                         std::string("[1,2]\n") + kGood + "\n" + kGood + "\n");
    auto o = options_for({a, b});
    EXPECT_CONTAINS(load_error(o), a.string() + ":2: invalid JSON");
    o.skip_bad_lines = true;
    o.packing = false;
    const auto data = load_dataset(test::stories_tokenizer(), o);
    EXPECT_EQ(data.stats.lines, 7);
    EXPECT_EQ(data.stats.examples, 4);
    EXPECT_EQ(data.stats.bad_lines_skipped, 3);
    EXPECT_EQ(data.train.size(), 4u);
    ASSERT_EQ(data.skipped.size(), 3u);
    EXPECT_CONTAINS(data.skipped[0], a.string() + ":2: invalid JSON");
    EXPECT_CONTAINS(data.skipped[1], a.string() + ":4: chat message 1 has role \"bot\"");
    EXPECT_CONTAINS(data.skipped[2], b.string() + ":1: expected a JSON object, got array");

    const auto all_bad = test::write_text_file(dir.path() / "c.jsonl", "x\ny\n");
    o.files = {all_bad};
    EXPECT_CONTAINS(load_error(o), "no usable examples in 1 file(s) (2 bad lines skipped)");
}

TEST(DataErrors, CrlfAndByteOrderMarkAreAccepted) {
    test::TempDir dir;
    const auto file = test::write_text_file(
        dir.path() / "win.jsonl", "\xEF\xBB\xBF" + std::string(kGood) + "\r\n" + kGood + "\r\n");
    const auto data = load_dataset(test::stories_tokenizer(), options_for({file}));
    EXPECT_EQ(data.stats.examples, 2);
    EXPECT_EQ(data.stats.bad_lines_skipped, 0);
}

TEST(DataErrors, BadOptions) {
    test::TempDir dir;
    const auto file = test::write_text_file(dir.path() / "g.jsonl", std::string(kGood) + "\n");
    EXPECT_CONTAINS(load_error(options_for({})), "no files given");
    auto o = options_for({file});
    o.seq_len = 1;
    EXPECT_CONTAINS(load_error(o), "seq_len must be at least 2, got 1");
    o = options_for({file});
    o.validation_fraction = 1.0;
    EXPECT_CONTAINS(load_error(o), "validation_fraction must be in [0, 1), got 1");
    o.validation_fraction = 0.5;  // of one example: nothing would be left to train on
    EXPECT_CONTAINS(load_error(o), "leaves nothing to train on");
    EXPECT_EQ(data_format_from_string("chat"), DataFormat::kChat);
    EXPECT_EQ(data_format_name(DataFormat::kAlpaca), "alpaca");
    EXPECT_THROW(data_format_from_string("sharegpt"), Error);
}

TEST(DataErrors, TruncationIsCounted) {
    test::TempDir dir;
    const auto file = test::write_text_file(
        dir.path() / "long.jsonl",
        std::string(kGood) + "\n" +
            R"({"text":"Once upon a time there was a girl named Lily who loved to play outside )"
            R"(in the big green park near her house with her friends every day."})" +
            "\n");
    auto o = options_for({file});
    o.seq_len = 16;
    const auto data = load_dataset(test::stories_tokenizer(), o);
    EXPECT_EQ(data.stats.truncated, 2);
    for (const auto& row : data.train) {
        EXPECT_EQ(row.input.size(), 16u);
    }
    o.seq_len = 256;
    EXPECT_EQ(load_dataset(test::stories_tokenizer(), o).stats.truncated, 0);
}

}  // namespace
}  // namespace qforge::train
