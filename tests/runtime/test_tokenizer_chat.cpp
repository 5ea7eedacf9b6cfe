// Chat templates against transformers' apply_chat_template(tokenize=False) (golden values
// from tests/golden/make_golden_tokenizers.py): the real Llama-2 chat, Llama-3 Instruct,
// ChatML and Qwen2 templates plus a multi-line ChatML, and the errors for unsupported or
// missing templates.
#include <cctype>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>

#include "kernels/common.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    return json::parse(in);
}

const json& families() {
    static const json f =
        read_json(test::golden_dir() / "tokenizers/chat_templates.json")["families"];
    return f;
}

fs::path base_dir(const json& base) {
    return base.contains("data") ? test::data_dir() / base["data"].get<std::string>()
                                 : test::golden_dir() / base["golden"].get<std::string>();
}

// A model directory: the family's base tokenizer.json next to its tokenizer_config.json.
fs::path make_model_dir(const std::string& family, const test::TempDir& tmp) {
    const json& f = families()[family];
    const fs::path dir = tmp.path() / family;
    fs::create_directories(dir);
    fs::copy_file(base_dir(f["base"]) / "tokenizer.json", dir / "tokenizer.json");
    fs::copy_file(test::golden_dir() / f["config"].get<std::string>(),
                  dir / "tokenizer_config.json");
    return dir;
}

bool have_base(const std::string& family) {
    return fs::exists(base_dir(families()[family]["base"]) / "tokenizer.json");
}

std::vector<ChatMessage> messages_of(const json& c) {
    std::vector<ChatMessage> out;
    for (const auto& m : c["messages"]) {
        out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    }
    return out;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

class ChatTemplateGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateGolden, MatchesTransformers) {
    if (!have_base(GetParam())) {
        GTEST_SKIP() << "shipped data not found under " << test::data_dir();
    }
    test::TempDir tmp;
    const Tokenizer tok = Tokenizer::load(make_model_dir(GetParam(), tmp));
    ASSERT_TRUE(tok.has_chat_template());
    int n = 0;
    for (const auto& c : families()[GetParam()]["cases"]) {
        SCOPED_TRACE(c["name"].get<std::string>() +
                     (c["add_generation_prompt"].get<bool>() ? " +generation prompt" : ""));
        EXPECT_EQ(c["oracle"], "transformers");
        const auto messages = messages_of(c);
        const bool agp = c["add_generation_prompt"].get<bool>();
        if (c.contains("text")) {
            EXPECT_EQ(tok.apply_chat_template(messages, agp), c["text"].get<std::string>());
        } else {
            // transformers raised; so must we, with the template's own message.
            const std::string err = error_of([&] { tok.apply_chat_template(messages, agp); });
            EXPECT_NE(err.find("Conversation roles must alternate"), std::string::npos) << err;
            EXPECT_NE(c["error"].get<std::string>().find("Conversation roles must alternate"),
                      std::string::npos);
        }
        ++n;
    }
    EXPECT_EQ(n, 12);
}

INSTANTIATE_TEST_SUITE_P(Families, ChatTemplateGolden,
                         ::testing::Values("llama2-chat", "llama3-instruct", "chatml", "qwen2",
                                           "chatml-multiline"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             for (char& c : name) {
                                 c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             }
                             return name;
                         });

TEST(ChatTemplate, UnsupportedTemplateNamesFileAndFirstLine) {
    if (!have_base("mistral-unsupported")) {
        GTEST_SKIP() << "shipped data not found under " << test::data_dir();
    }
    test::TempDir tmp;
    const fs::path dir = make_model_dir("mistral-unsupported", tmp);
    const Tokenizer tok = Tokenizer::load(dir);  // loading still works: encode needs no template
    EXPECT_TRUE(tok.has_chat_template());
    EXPECT_EQ(tok.encode("hi", false), std::vector<std::int32_t>{7251});
    const std::string err = error_of([&] { tok.apply_chat_template({{"user", "hi"}}); });
    EXPECT_NE(err.find((dir / "tokenizer_config.json").string()), std::string::npos) << err;
    EXPECT_NE(err.find("not one of the supported families"), std::string::npos) << err;
    EXPECT_NE(err.find("{{ bos_token }}{% for message in messages %}"), std::string::npos) << err;
}

TEST(ChatTemplate, NoTemplateSaysSo) {
    const fs::path dir = test::data_dir() / "models/llama2-tokenizer";
    if (!fs::exists(dir / "tokenizer.json")) {
        GTEST_SKIP() << "shipped data not found at " << dir;
    }
    const Tokenizer tok = Tokenizer::load(dir);
    EXPECT_FALSE(tok.has_chat_template());
    const std::string err = error_of([&] { tok.apply_chat_template({{"user", "hi"}}); });
    EXPECT_NE(err.find("has no chat template"), std::string::npos) << err;
}

// The config's template, rewritten into a chat_template.jinja file (transformers' newer
// layout), replaces the one in tokenizer_config.json; the list form picks "default".
TEST(ChatTemplate, JinjaFileAndNamedTemplates) {
    if (!have_base("llama3-instruct")) {
        GTEST_SKIP() << "shipped data not found";
    }
    test::TempDir tmp;
    const fs::path dir = make_model_dir("llama3-instruct", tmp);
    const std::string chatml = read_json(
        test::golden_dir() / "tokenizers/chat/chatml/tokenizer_config.json")["chat_template"];
    const std::vector<ChatMessage> conv = {{"user", "Hi"}};
    EXPECT_EQ(Tokenizer::load(dir).apply_chat_template(conv, true),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");

    json cfg = read_json(dir / "tokenizer_config.json");
    const std::string llama3 = cfg["chat_template"];
    cfg["chat_template"] = json::array({{{"name", "tool_use"}, {"template", "{{ oops }}"}},
                                        {{"name", "default"}, {"template", chatml}}});
    std::ofstream(dir / "tokenizer_config.json") << cfg.dump();
    EXPECT_EQ(Tokenizer::load(dir).apply_chat_template(conv, true),
              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

    std::ofstream(dir / "chat_template.jinja") << llama3 << "\n";
    EXPECT_EQ(Tokenizer::load(dir).apply_chat_template(conv, false),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

// Whitespace inside tags and the quote style of string literals cannot change what a
// template renders, so they must not change what it is recognised as.
TEST(ChatTemplate, RecognitionIgnoresTagWhitespaceAndQuotes) {
    std::mt19937_64 rng(test::test_seed());
    for (const char* family : {"llama2-chat", "llama3-instruct", "chatml", "qwen2"}) {
        SCOPED_TRACE(family);
        const std::string src = read_json(test::golden_dir() / "tokenizers/chat" / family /
                                          "tokenizer_config.json")["chat_template"];
        const auto want = tokenizer::chat_template_recognize(src);
        ASSERT_TRUE(want.has_value());
        for (int trial = 0; trial < 20; ++trial) {
            // Add random spaces/newlines after "{{", "{%" and before "}}", "%}", and swap
            // '...' literals without quotes or backslashes inside for "...".
            std::string out;
            for (std::size_t i = 0; i < src.size(); ++i) {
                const bool closing = src.compare(i, 2, "}}") == 0 || src.compare(i, 2, "%}") == 0;
                if (closing && rng() % 2) {
                    out += std::string(1 + rng() % 3, rng() % 2 ? ' ' : '\n');
                }
                out += src[i];
                const bool opening = i > 0 && src[i - 1] == '{' && (src[i] == '{' || src[i] == '%');
                if (opening && rng() % 2) {
                    out += std::string(1 + rng() % 3, ' ');
                }
            }
            std::string swapped;
            for (std::size_t i = 0; i < out.size(); ++i) {
                const std::size_t end = out[i] == '\'' ? out.find('\'', i + 1) : std::string::npos;
                if (end == std::string::npos) {
                    swapped += out[i];
                    continue;
                }
                const std::string inner = out.substr(i + 1, end - i - 1);
                const bool swap = inner.find_first_of("\"\\") == std::string::npos && rng() % 2;
                swapped += swap ? "\"" + inner + "\"" : out.substr(i, end - i + 1);
                i = end;
            }
            const auto got = tokenizer::chat_template_recognize(swapped);
            ASSERT_TRUE(got.has_value()) << swapped;
            EXPECT_EQ(got->family, want->family);
            EXPECT_EQ(got->default_system_block, want->default_system_block);
        }
    }
}

TEST(ChatTemplate, ChangedTemplatesAreNotRecognised) {
    const std::string chatml = read_json(
        test::golden_dir() / "tokenizers/chat/chatml/tokenizer_config.json")["chat_template"];
    ASSERT_TRUE(tokenizer::chat_template_recognize(chatml).has_value());
    // Text that would render differently: another role marker, text outside tags, a trimmed
    // content, a different generation prompt, an unterminated tag.
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"<|im_start|>", "<|im_begin|>"},
             {"{% endfor %}", "{% endfor %}\n\n"},
             {"message['content']", "message['content'] | trim"},
             {"assistant\n", "bot\n"},
             {"{% endif %}", "{% endif "}}) {
        std::string changed = chatml;
        const std::size_t at = changed.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        changed.replace(at, from.size(), to);
        EXPECT_FALSE(tokenizer::chat_template_recognize(changed).has_value()) << changed;
    }
}

TEST(ChatTemplate, Llama2NeedsBosAndAlternatingRoles) {
    const std::string src = read_json(
        test::golden_dir() / "tokenizers/chat/llama2-chat/tokenizer_config.json")["chat_template"];
    const auto tmpl = tokenizer::chat_template_recognize(src);
    ASSERT_TRUE(tmpl.has_value());
    const tokenizer::ChatSpecialTokens none{std::nullopt, std::nullopt,
                                            "cfg/tokenizer_config.json"};
    std::string err = error_of([&] {
        tokenizer::chat_template_render(*tmpl, {{"user", "hi"}}, true, none);
    });
    EXPECT_NE(err.find("cfg/tokenizer_config.json"), std::string::npos) << err;
    EXPECT_NE(err.find("bos_token"), std::string::npos) << err;
    err = error_of([&] { tokenizer::chat_template_render(*tmpl, {}, true, none); });
    EXPECT_NE(err.find("no messages"), std::string::npos) << err;
    const tokenizer::ChatSpecialTokens tokens{"<s>", "</s>", "cfg"};
    err = error_of([&] {
        tokenizer::chat_template_render(*tmpl, {{"system", "s"}, {"assistant", "a"}}, true, tokens);
    });
    EXPECT_NE(err.find("Conversation roles must alternate"), std::string::npos) << err;
}

TEST(ChatTemplate, PythonStrip) {
    EXPECT_EQ(tokenizer::python_strip(" \t\n\x1c\xc2\x85\xe3\x80\x80 a b \xe2\x80\xa8\x0b"), "a b");
    EXPECT_EQ(tokenizer::python_strip("\xe2\x80\x8b a"), "\xe2\x80\x8b a");  // ZWSP is no space
    EXPECT_EQ(tokenizer::python_strip("   "), "");
}

}  // namespace
}  // namespace qforge
