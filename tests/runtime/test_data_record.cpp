// What is here: tests of runtime/train/data_record.h: format detection and one clear error
// per kind of malformed JSONL line.
#include <gtest/gtest.h>
#include <string>

#include "kernels/common.h"
#include "runtime/train/data_record.h"

namespace qforge::train {
namespace {

// The message of the Error that parsing `line` throws ("" when it does not throw).
std::string parse_error(const std::string& line, DataFormat format = DataFormat::kAuto) {
    try {
        data_record_parse(line, format, "data.jsonl:17");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(DataRecord, AutoDetectsEachFormat) {
    auto alpaca = data_record_parse(R"({"instruction":"Add","input":"1+2","output":"3"})",
                                    DataFormat::kAuto, "a:1");
    EXPECT_EQ(alpaca.format, DataFormat::kAlpaca);
    EXPECT_EQ(alpaca.instruction, "Add");
    EXPECT_EQ(alpaca.input, "1+2");
    EXPECT_EQ(alpaca.output, "3");

    auto no_input =
        data_record_parse(R"({"instruction":"Hi","output":"Hello"})", DataFormat::kAuto, "a:2");
    EXPECT_EQ(no_input.format, DataFormat::kAlpaca);
    EXPECT_EQ(no_input.input, "");

    auto chat = data_record_parse(
        R"({"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},)"
        R"({"role":"assistant","content":"Hello"}]})",
        DataFormat::kAuto, "a:3");
    ASSERT_EQ(chat.format, DataFormat::kChat);
    ASSERT_EQ(chat.messages.size(), 3u);
    EXPECT_EQ(chat.messages[0].role, "system");
    EXPECT_EQ(chat.messages[2].content, "Hello");

    auto text = data_record_parse(R"({"text":"Once upon a time"})", DataFormat::kAuto, "a:4");
    EXPECT_EQ(text.format, DataFormat::kText);
    EXPECT_EQ(text.text, "Once upon a time");

    // tatsu-lab/alpaca rows carry a formatted "text" beside the fields: they stay alpaca.
    auto both = data_record_parse(R"({"instruction":"I","output":"O","text":"I O"})",
                                  DataFormat::kAuto, "a:5");
    EXPECT_EQ(both.format, DataFormat::kAlpaca);
}

TEST(DataRecord, ExplicitFormatIgnoresOtherKeys) {
    auto text = data_record_parse(R"({"instruction":"I","output":"O","text":"T"})",
                                  DataFormat::kText, "a:1");
    EXPECT_EQ(text.format, DataFormat::kText);
    EXPECT_EQ(text.text, "T");
    EXPECT_NE(parse_error(R"({"text":"T"})", DataFormat::kAlpaca)
                  .find("data.jsonl:17: alpaca record has no \"instruction\" string"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"text":"T"})", DataFormat::kChat)
                  .find("data.jsonl:17: chat record has no \"messages\" array"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"messages":[]})", DataFormat::kText)
                  .find("data.jsonl:17: text record has no \"text\" string"),
              std::string::npos);
}

struct BadLine {
    const char* name;
    const char* line;
    const char* expected;  // the whole message starts "data.jsonl:17: " + this
};

class DataRecordBadLine : public ::testing::TestWithParam<BadLine> {};

TEST_P(DataRecordBadLine, NamesTheLineAndTheProblem) {
    const auto& c = GetParam();
    const std::string message = parse_error(c.line);
    ASSERT_FALSE(message.empty()) << "no error for " << c.line;
    EXPECT_EQ(message.rfind(std::string("data.jsonl:17: ") + c.expected, 0), 0u)
        << "got: " << message;
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(All, DataRecordBadLine, ::testing::Values(
    BadLine{"TruncatedJson", R"({"instruction":"a","output":)", "invalid JSON (parse error"},
    BadLine{"TrailingGarbage", R"({"text":"a"} x)", "invalid JSON ("},
    BadLine{"BadUtf8", "{\"text\":\"caf\xC3\"}", "invalid JSON ("},
    BadLine{"NotAnObject", R"(["text","a"])", "expected a JSON object, got array"},
    BadLine{"NoKnownKeys", R"({"prompt":"a","answer":"b"})",
            "record matches no format (keys: \"answer\", \"prompt\";"},
    BadLine{"AlpacaNoOutput", R"({"instruction":"a","input":"b"})",
            "alpaca record has no \"output\" string"},
    BadLine{"AlpacaNoInstruction", R"({"output":"a"})",
            "alpaca record has no \"instruction\" string"},
    BadLine{"AlpacaOutputNumber", R"({"instruction":"a","output":3})",
            "alpaca record field \"output\" is number (expected a string)"},
    BadLine{"AlpacaInputArray", R"({"instruction":"a","input":[1],"output":"b"})",
            "alpaca record field \"input\" is array (expected a string)"},
    BadLine{"AlpacaEmptyInstruction", R"({"instruction":"","output":"b"})",
            "alpaca record has an empty \"instruction\""},
    BadLine{"ChatMessagesNotArray", R"({"messages":"hi"})",
            "chat record field \"messages\" is string (expected an array)"},
    BadLine{"ChatEmpty", R"({"messages":[]})", "chat record has an empty \"messages\" array"},
    BadLine{"ChatMessageNotObject", R"({"messages":[{"role":"user","content":"a"},"b"]})",
            "chat message 2 is string (expected an object with role and content)"},
    BadLine{"ChatBadRole",
            R"({"messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]})",
            "chat message 2 has role \"robot\" (expected system, user or assistant)"},
    BadLine{"ChatNoRole", R"({"messages":[{"content":"a"}]})",
            "chat message 1 has no \"role\" string"},
    BadLine{"ChatContentNull", R"({"messages":[{"role":"user","content":null}]})",
            "chat message 1 has no \"content\" string"},
    BadLine{"ChatEndsWithUser",
            R"({"messages":[{"role":"assistant","content":"a"},{"role":"user","content":"b"}]})",
            "chat record ends with a \"user\" message"},
    BadLine{"TextNotString", R"({"text":{"a":1}})",
            "text record field \"text\" is object (expected a string)"},
    BadLine{"TextEmpty", R"({"text":""})", "text record has an empty \"text\""}),
    [](const auto& param_info) { return std::string(param_info.param.name); });
// clang-format on

}  // namespace
}  // namespace qforge::train
