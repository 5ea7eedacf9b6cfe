// What is here: loading eval test sets: the shipped Dolly and SQuAD files, field names,
// prompt templates, reference lists, and errors that name file, line and field.
#include <fstream>
#include <gtest/gtest.h>

#include "evaluation/run/test_set.h"
#include "kernels/common.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

void expect_error(const TestSetSpec& spec, const std::string& needle) {
    try {
        load_test_set(spec);
        FAIL() << "expected an error containing " << needle;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(EvalTestSet, ShippedDollyAndSquad) {
    TestSetSpec dolly;
    dolly.path = test::data_dir() / "datasets" / "dolly-slice" / "dolly_151_raw.jsonl";
    dolly.limit = 5;
    const auto d = load_test_set(dolly);
    ASSERT_EQ(d.size(), 5u);
    EXPECT_NE(d[0].prompt.find("### Instruction:"), std::string::npos);
    EXPECT_FALSE(d[0].references[0].empty());
    EXPECT_EQ(d[0].id, "1");

    TestSetSpec squad;
    squad.path = test::data_dir() / "datasets" / "squad-v1.1-dev" / "rag_queries.jsonl";
    squad.prompt_template = "Question: {question}\nAnswer:";
    squad.reference_field = "answers";
    squad.id_field = "id";
    squad.limit = 4;
    const auto q = load_test_set(squad);
    ASSERT_EQ(q.size(), 4u);
    EXPECT_EQ(q[0].prompt,
              "Question: Which NFL team represented the AFC at Super Bowl 50?\nAnswer:");
    EXPECT_EQ(q[0].references, std::vector<std::string>{"Denver Broncos"});
    EXPECT_EQ(q[0].id, "56be4db0acb8001400a502ec");
}

TEST(EvalTestSet, ErrorsNameFileLineAndField) {
    test::TempDir tmp;
    const auto file = tmp.path() / "set.jsonl";
    std::ofstream(file) << "{\"prompt\": \"a\", \"answer\": \"b\"}\n\n"
                        << "{\"prompt\": \"c\"}\n";
    TestSetSpec spec;
    spec.path = file;
    expect_error(spec, file.string() + ":3: field \"answer\" is missing");
    spec.reference_field = "prompt";
    spec.prompt_field = "question";
    expect_error(spec, file.string() + ":1: field \"question\" is missing");

    std::ofstream(file) << "{\"prompt\": 5, \"answer\": \"b\"}\n";
    spec = TestSetSpec{};
    spec.path = file;
    expect_error(spec, ":1: field \"prompt\" is number (expected a string)");
    std::ofstream(file) << "{\"prompt\": \"a\", \"answer\": []}\n";
    expect_error(spec, ":1: field \"answer\" is an empty list");
    std::ofstream(file) << "{\"prompt\": \"a\", \"answer\": [\"x\", 3]}\n";
    expect_error(spec, ":1: field \"answer\"[1] is number");
    std::ofstream(file) << "not json\n";
    expect_error(spec, ":1: not a JSON object");
    spec.path = tmp.path() / "missing.jsonl";
    expect_error(spec, "missing.jsonl: cannot open");
}

TEST(EvalTestSet, InputFieldAndListReferences) {
    test::TempDir tmp;
    const auto file = tmp.path() / "set.jsonl";
    std::ofstream(file) << R"({"instruction": "Sum", "input": "2 and 3", "out": ["5", "five"]})"
                        << "\n"
                        << R"({"instruction": "Hi", "input": "", "out": "hello"})"
                        << "\n";
    TestSetSpec spec;
    spec.path = file;
    spec.prompt_field = "instruction";
    spec.input_field = "input";
    spec.reference_field = "out";
    const auto ex = load_test_set(spec);
    ASSERT_EQ(ex.size(), 2u);
    EXPECT_EQ(ex[0].prompt, "Sum\n\n2 and 3");
    EXPECT_EQ(ex[0].references, (std::vector<std::string>{"5", "five"}));
    EXPECT_EQ(ex[1].prompt, "Hi");
}

}  // namespace
}  // namespace qforge::eval
