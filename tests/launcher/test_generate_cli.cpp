// End to end: the `qforge generate` binary on the shipped stories260K model prints exactly
// the text Hugging Face transformers generates greedily, and bad input exits non-zero with
// one clear message.
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace qforge {
namespace {

std::filesystem::path stories_dir() {
    return test::data_dir() / "models/stories260K";
}

TEST(GenerateCli, GreedyMatchesTransformers) {
    if (!std::filesystem::exists(stories_dir() / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    std::ifstream in(test::golden_dir() / "models/stories260K.json");
    const auto golden = nlohmann::json::parse(in);
    for (const auto& c : golden["cases"]) {
        const std::string prompt = c["prompt"];
        const auto r = test::run_command(std::string(QFORGE_BINARY) + " generate --model '" +
                                         stories_dir().string() + "' --prompt '" + prompt +
                                         "' --max-tokens 64 --ignore-eos");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, c["full_text"].get<std::string>() + "\n");
        EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
    }
}

TEST(GenerateCli, SamplingIsReplayableWithASeed) {
    if (!std::filesystem::exists(stories_dir() / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const std::string cmd = std::string(QFORGE_BINARY) + " generate -q --model '" +
                            stories_dir().string() +
                            "' --prompt 'Once upon a time' --max-tokens 32 --temperature 0.9 "
                            "--top-p 0.9 --seed ";
    const auto a = test::run_command(cmd + "1"), b = test::run_command(cmd + "1");
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_GT(a.out.size(), std::string("Once upon a time").size());
}

// stories260K with the Llama-2 chat template (its text-only markup fits the 512-token vocab):
// --chat renders the template and prints only the reply, which is what --prompt prints after
// the rendered conversation.
TEST(GenerateCli, ChatRendersTheTemplateAndPrintsTheReply) {
    if (!std::filesystem::exists(stories_dir() / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir dir;
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"}) {
        std::filesystem::copy_file(stories_dir() / f, dir.path() / f);
    }
    std::filesystem::copy_file(
        test::golden_dir() / "tokenizers/chat/llama2-chat/tokenizer_config.json",
        dir.path() / "tokenizer_config.json");
    const std::string model = " generate -q --model '" + dir.path().string() + "' ";
    const auto chat = test::run_command(std::string(QFORGE_BINARY) + model +
                                        "--chat 'Tell me a story.' --max-tokens 24");
    ASSERT_EQ(chat.exit_code, 0) << chat.err;
    const auto raw =
        test::run_command(std::string(QFORGE_BINARY) + model +
                          "--prompt '[INST] Tell me a story. [/INST]' --max-tokens 24");
    ASSERT_EQ(raw.exit_code, 0) << raw.err;
    ASSERT_GT(chat.out.size(), 1u);
    // --prompt echoes the prompt; --chat prints the reply only, and both continue the same ids.
    EXPECT_NE(raw.out.find(chat.out.substr(0, chat.out.size() - 1)), std::string::npos)
        << "chat: " << chat.out << "raw: " << raw.out;
}

TEST(GenerateCli, MissingConfigIsOneClearError) {
    test::TempDir dir;
    const auto r = test::run_command(std::string(QFORGE_BINARY) + " generate --model '" +
                                     dir.path().string() + "' --prompt hi");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("qforge: error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("json"), std::string::npos) << r.err;
}

TEST(GenerateCli, ChatWithoutTemplateSaysSo) {
    if (!std::filesystem::exists(stories_dir() / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const auto r = test::run_command(std::string(QFORGE_BINARY) + " generate --model '" +
                                     stories_dir().string() + "' --chat 'What is QLoRA?'");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("chat"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qforge
