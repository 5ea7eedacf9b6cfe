// What is here: chat and text records through the data pipeline: the built-in chat rendering
// (stories260K has no chat template), the chat templates of tests/golden/tokenizers,
// per-line auto detection, EOS and masking options.
#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "runtime/train/data_examples.h"
#include "runtime/train/data_record.h"
#include "runtime/train/data_render.h"
#include "runtime/train/data_tokenize.h"
#include "test_data_stories.h"

namespace qforge::train {
namespace {

// Runs of consecutive masked tokens, decoded without special tokens.
std::vector<std::string> masked_runs(const Tokenizer& tok, const Example& ex) {
    std::vector<std::string> runs;
    std::vector<int32_t> run;
    for (size_t i = 0; i <= ex.tokens.size(); ++i) {
        if (i < ex.tokens.size() && ex.target_mask[i]) {
            run.push_back(ex.tokens[i]);
        } else if (!run.empty()) {
            runs.push_back(tok.decode(run, true));
            run.clear();
        }
    }
    return runs;
}

std::vector<Example> read_examples(const Tokenizer& tok, const DataOptions& o) {
    DataStats stats;
    std::vector<std::string> skipped;
    return data_read_examples(tok, o, stats, skipped);
}

DataOptions options_for(const std::filesystem::path& file) {
    DataOptions o;
    o.files = {file};
    o.validation_fraction = 0.0;
    o.seq_len = 512;
    return o;
}

const char* kChat = R"({"messages":[{"role":"system","content":"You answer in one word."},)"
                    R"({"role":"user","content":"What color is the sky?"},)"
                    R"({"role":"assistant","content":"Blue."},)"
                    R"({"role":"user","content":"And grass?"},)"
                    R"({"role":"assistant","content":"Green."}]})";

TEST(DataFormats, ChatWithoutTemplateUsesRoleHeaders) {
    const auto& tok = test::stories_tokenizer();
    ASSERT_FALSE(tok.has_chat_template());
    test::TempDir dir;
    const auto file = test::write_text_file(dir.path() / "chat.jsonl", std::string(kChat) + "\n");
    const auto examples = read_examples(tok, options_for(file));
    ASSERT_EQ(examples.size(), 1u);
    const auto& ex = examples[0];
    const std::string text =
        "### System:\nYou answer in one word.\n\n### User:\nWhat color is the sky?\n\n"
        "### Assistant:\nBlue.\n\n### User:\nAnd grass?\n\n### Assistant:\nGreen.\n\n";
    auto expected = tok.encode(text);
    expected.push_back(*tok.eos_id());
    EXPECT_EQ(ex.tokens, expected);
    // Both assistant turns, and only they, are learned; the last one ends with EOS.
    EXPECT_EQ(masked_runs(tok, ex), (std::vector<std::string>{"Blue.\n\n", "Green.\n\n"}));
    EXPECT_EQ(ex.tokens.back(), *tok.eos_id());
    EXPECT_EQ(ex.target_mask.back(), 1);
}

TEST(DataFormats, TextLearnsEveryToken) {
    const auto& tok = test::stories_tokenizer();
    test::TempDir dir;
    const auto file =
        test::write_text_file(dir.path() / "text.jsonl",
                              "{\"text\":\"Once upon a time, there was a little cat.\"}\n"
                              "{\"text\":\"Tom liked to play in the park.\",\"source\":\"x\"}\n");
    for (bool responses_only : {true, false}) {
        auto o = options_for(file);
        o.train_on_responses_only = responses_only;  // no prompt in text records either way
        const auto examples = read_examples(tok, o);
        ASSERT_EQ(examples.size(), 2u);
        auto expected = tok.encode("Tom liked to play in the park.");
        EXPECT_EQ(expected.front(), *tok.bos_id()) << "BOS as the tokenizer adds it";
        expected.push_back(*tok.eos_id());
        EXPECT_EQ(examples[1].tokens, expected);
        EXPECT_EQ(examples[1].target_mask, std::vector<uint8_t>(expected.size(), 1));
    }
}

TEST(DataFormats, AutoDecidesPerLineAndExplicitFormatOverrides) {
    const auto& tok = test::stories_tokenizer();
    test::TempDir dir;
    const auto file = test::write_text_file(
        dir.path() / "mixed.jsonl",
        std::string(R"({"instruction":"Say hi","output":"Hi","text":"ignored"})") + "\n" + kChat +
            "\n" + R"({"text":"Plain words."})" + "\n");
    auto examples = read_examples(tok, options_for(file));
    ASSERT_EQ(examples.size(), 3u);
    EXPECT_EQ(tok.decode(examples[0].tokens, true), data_alpaca_prompt("Say hi", "") + "Hi");
    EXPECT_EQ(masked_runs(tok, examples[0]), (std::vector<std::string>{"Hi"}));
    EXPECT_EQ(masked_runs(tok, examples[1]).size(), 2u);
    EXPECT_EQ(tok.decode(examples[2].tokens, true), "Plain words.");

    auto o = options_for(file);
    o.format = DataFormat::kText;  // line 1 has "text" too; line 2 does not
    std::string message;
    try {
        read_examples(tok, o);
    } catch (const Error& e) {
        message = e.what();
    }
    EXPECT_NE(message.find("mixed.jsonl:2: text record has no \"text\" string"), std::string::npos)
        << message;
}

TEST(DataFormats, EosAndResponsesOnlyOptions) {
    const auto& tok = test::stories_tokenizer();
    test::TempDir dir;
    const auto file = test::write_text_file(dir.path() / "a.jsonl",
                                            R"({"instruction":"Name a pet.","output":"A cat."})");
    auto o = options_for(file);
    const auto with_eos = read_examples(tok, o)[0];
    o.add_eos = false;
    const auto without_eos = read_examples(tok, o)[0];
    EXPECT_EQ(with_eos.tokens.size(), without_eos.tokens.size() + 1);
    EXPECT_NE(without_eos.tokens.back(), *tok.eos_id());
    EXPECT_EQ(masked_runs(tok, without_eos), (std::vector<std::string>{"A cat."}));
    o.train_on_responses_only = false;
    const auto everything = read_examples(tok, o)[0];
    EXPECT_EQ(everything.tokens, without_eos.tokens);
    EXPECT_EQ(everything.target_mask, std::vector<uint8_t>(everything.tokens.size(), 1));
}

// A rendering whose piece boundary falls inside what the tokenizer merges into one token:
// that token goes to the later (response) piece, and nothing is lost or duplicated.
TEST(DataFormats, BoundaryInsideATokenGoesToTheResponse) {
    const auto& tok = test::stories_tokenizer();
    DataRendering r;
    r.pieces = {{"Lily saw a l", false}, {"ittle cat.", true}};
    const auto ex = data_tokenize(r, tok, true, false, "t:1");
    const auto whole = tok.encode("Lily saw a little cat.");
    EXPECT_EQ(ex.tokens, whole);
    // The prompt owns the tokens that encoding it alone gives identically; the rest (including
    // a token that "l|ittle" merged into) is the response.
    const auto prompt = tok.encode("Lily saw a l");
    const auto common = static_cast<size_t>(
        std::mismatch(prompt.begin(), prompt.end(), whole.begin(), whole.end()).first -
        prompt.begin());
    EXPECT_LT(common, whole.size());
    std::vector<uint8_t> mask(whole.size(), 1);
    std::fill(mask.begin(), mask.begin() + static_cast<long>(common), uint8_t{0});
    EXPECT_EQ(ex.target_mask, mask);
    const auto runs = masked_runs(tok, ex);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_TRUE(runs[0].ends_with("ittle cat.")) << runs[0];
}

// Tokenizers with a chat template: the chat families of tests/golden/tokenizers
// (chat_templates.json names each one's base tokenizer.json and its tokenizer_config.json).
// The whole template text is the example; the assistant turns, and only they, are learned.
class DataChatTemplate : public ::testing::TestWithParam<std::string> {
protected:
    // A model directory: the family's base tokenizer.json next to its tokenizer_config.json;
    // empty when the base is not shipped here.
    std::filesystem::path model_dir() {
        std::ifstream in(test::golden_dir() / "tokenizers/chat_templates.json");
        const auto family = nlohmann::json::parse(in)["families"][GetParam()];
        const auto& base = family["base"];
        const auto base_dir = base.contains("data")
                                  ? test::data_dir() / base["data"].get<std::string>()
                                  : test::golden_dir() / base["golden"].get<std::string>();
        if (!std::filesystem::exists(base_dir / "tokenizer.json")) {
            return {};
        }
        const auto dir = tmp_.path() / GetParam();
        std::filesystem::create_directories(dir);
        std::filesystem::copy_file(base_dir / "tokenizer.json", dir / "tokenizer.json");
        std::filesystem::copy_file(test::golden_dir() / family["config"].get<std::string>(),
                                   dir / "tokenizer_config.json");
        return dir;
    }

    test::TempDir tmp_;
};

TEST_P(DataChatTemplate, LearnsExactlyTheAssistantTurns) {
    const auto dir = model_dir();
    if (dir.empty()) {
        GTEST_SKIP() << "base tokenizer of " << GetParam() << " not found";
    }
    const auto tok = Tokenizer::load(dir);
    ASSERT_TRUE(tok.has_chat_template());
    const auto file = test::write_text_file(
        tmp_.path() / "c.jsonl",
        std::string(kChat) + "\n" + R"({"instruction":"Add","input":"1+2","output":"3"})" + "\n");
    const auto examples = read_examples(tok, options_for(file));
    ASSERT_EQ(examples.size(), 2u);
    const auto eos = *tok.eos_id();

    // Chat: the template's text, tokenized as HF does (the template spells BOS itself).
    const std::vector<ChatMessage> chat = {{"system", "You answer in one word."},
                                           {"user", "What color is the sky?"},
                                           {"assistant", "Blue."},
                                           {"user", "And grass?"},
                                           {"assistant", "Green."}};
    auto expected = tok.encode(tok.apply_chat_template(chat, false), false);
    if (std::find(expected.begin(), expected.end(), eos) == expected.end()) {
        expected.push_back(eos);  // templates that do not end turns with EOS get it appended
    }
    EXPECT_EQ(examples[0].tokens, expected);
    const auto runs = masked_runs(tok, examples[0]);
    ASSERT_EQ(runs.size(), 2u);
    // A run is the reply plus the template's end-of-turn text (special tokens decode away).
    EXPECT_EQ(runs[0].substr(runs[0].find_first_not_of(' '), 5), "Blue.") << runs[0];
    EXPECT_EQ(runs[1].substr(runs[1].find_first_not_of(' '), 6), "Green.") << runs[1];
    EXPECT_EQ(runs[0].find("sky"), std::string::npos) << "no prompt text is learned";

    // Alpaca through the template: [user: instruction + "\n\n" + input, assistant: output];
    // the prompt is exactly the template's generation prompt.
    const auto& ex = examples[1];
    const auto prompt = tok.encode(tok.apply_chat_template({{"user", "Add\n\n1+2"}}, true), false);
    ASSERT_LT(prompt.size(), ex.tokens.size());
    EXPECT_TRUE(std::equal(prompt.begin(), prompt.end(), ex.tokens.begin()));
    EXPECT_EQ(std::count(ex.target_mask.begin(),
                         ex.target_mask.begin() + static_cast<long>(prompt.size()), 1),
              0);
    const auto reply = masked_runs(tok, ex);
    ASSERT_EQ(reply.size(), 1u);
    EXPECT_EQ(reply[0].substr(reply[0].find_first_not_of(' '), 1), "3") << reply[0];
    EXPECT_TRUE(ex.target_mask[prompt.size()]) << "the reply starts right after the prompt";
}

INSTANTIATE_TEST_SUITE_P(Families, DataChatTemplate,
                         ::testing::Values("llama2-chat", "llama3-instruct", "chatml", "qwen2",
                                           "chatml-multiline"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

// A template the tokenizer cannot render is reported on the line that needed it.
TEST(DataFormats, UnsupportedChatTemplateNamesTheLine) {
    test::TempDir tmp;
    const auto base = test::data_dir() / "models/llama2-tokenizer/tokenizer.json";
    if (!std::filesystem::exists(base)) {
        GTEST_SKIP() << base << " not found";
    }
    std::filesystem::copy_file(base, tmp.path() / "tokenizer.json");
    std::filesystem::copy_file(
        test::golden_dir() / "tokenizers/chat/mistral-unsupported/tokenizer_config.json",
        tmp.path() / "tokenizer_config.json");
    const auto tok = Tokenizer::load(tmp.path());
    const auto file = test::write_text_file(tmp.path() / "m.jsonl", std::string(kChat) + "\n");
    std::string message;
    try {
        read_examples(tok, options_for(file));
    } catch (const Error& e) {
        message = e.what();
    }
    EXPECT_EQ(message.rfind(file.string() + ":1: ", 0), 0u) << message;
}

}  // namespace
}  // namespace qforge::train
