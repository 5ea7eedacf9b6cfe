// Tokenizer encode/decode against golden values from Hugging Face tokenizers 0.23
// (tests/golden/make_golden_tokenizers.py): stories260K and Llama-2 (SentencePiece-style BPE
// with byte fallback), a byte-level BPE trained with the Llama-3 pre-tokenizer, and variants
// of them (Metaspace in both forms, GPT-2 ByteLevel regex + NFKC, added tokens with
// lstrip/rstrip/single_word/normalized flags). Every case must match exactly.
#include <cctype>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "runtime/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& path) {
    std::ifstream in(path);
    if (!in.good()) {
        throw std::runtime_error("cannot open " + path.string());
    }
    return json::parse(in);
}

// {"data": "models/x"} -> data_dir()/models/x; {"golden": "tokenizers/x"} -> golden_dir()/...
fs::path base_dir(const json& base) {
    if (base.contains("data")) {
        return test::data_dir() / base["data"].get<std::string>();
    }
    return test::golden_dir() / base["golden"].get<std::string>();
}

// The tokenizer a golden file was made with: a base directory, or a variant written into
// `tmp` (base tokenizer.json, patched top-level keys, appended added tokens).
Tokenizer load_golden_tokenizer(const std::string& name, const test::TempDir& tmp) {
    const json variants = read_json(test::golden_dir() / "tokenizers/variants.json")["variants"];
    if (!variants.contains(name)) {
        const json g = read_json(test::golden_dir() / "tokenizers/encode" / (name + ".json"));
        return Tokenizer::load(base_dir(g["base"]));
    }
    const json& spec = variants[name];
    json j = read_json(base_dir(spec["base"]) / "tokenizer.json");
    for (const auto& [key, value] : spec["patch"].items()) {
        j[key] = value;
    }
    for (const auto& t : spec["append_added_tokens"]) {
        j["added_tokens"].push_back(t);
    }
    const fs::path path = tmp.path() / (name + ".json");
    std::ofstream(path) << j.dump();
    return Tokenizer::load(path);
}

bool have_data(const std::string& name) {
    const json variants = read_json(test::golden_dir() / "tokenizers/variants.json")["variants"];
    const json base =
        variants.contains(name)
            ? variants[name]["base"]
            : read_json(test::golden_dir() / "tokenizers/encode" / (name + ".json"))["base"];
    return fs::exists(base_dir(base) / "tokenizer.json");
}

class TokenizerGolden : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (!have_data(GetParam())) {
            GTEST_SKIP() << "shipped data not found under " << test::data_dir()
                         << " (set QFORGE_DATA)";
        }
        golden_ = read_json(test::golden_dir() / "tokenizers/encode" / (GetParam() + ".json"));
    }

    json golden_;
    test::TempDir tmp_;
};

TEST_P(TokenizerGolden, EncodeMatchesHuggingFace) {
    const Tokenizer tok = load_golden_tokenizer(GetParam(), tmp_);
    int n = 0;
    for (const auto& c : golden_["cases"]) {
        const std::string text = c["text"].get<std::string>();
        SCOPED_TRACE("case " + std::to_string(n++) + ": " + ::testing::PrintToString(text));
        EXPECT_EQ(tok.encode(text, true), c["ids"].get<std::vector<std::int32_t>>());
        EXPECT_EQ(tok.encode(text, false), c["ids_no_special"].get<std::vector<std::int32_t>>());
    }
    EXPECT_GT(n, 50);
}

TEST_P(TokenizerGolden, DecodeMatchesHuggingFace) {
    const Tokenizer tok = load_golden_tokenizer(GetParam(), tmp_);
    for (const auto& c : golden_["cases"]) {
        SCOPED_TRACE(::testing::PrintToString(c["text"].get<std::string>()));
        const auto ids = c["ids"].get<std::vector<std::int32_t>>();
        EXPECT_EQ(tok.decode(ids, false), c["decode"].get<std::string>());
        EXPECT_EQ(tok.decode(ids, true), c["decode_skip"].get<std::string>());
    }
    // Random id sequences (and, for byte-fallback vocabs, valid and broken UTF-8 byte runs).
    for (const auto& c : golden_["decode_cases"]) {
        const auto ids = c["ids"].get<std::vector<std::int32_t>>();
        SCOPED_TRACE(::testing::PrintToString(ids));
        EXPECT_EQ(tok.decode(ids, false), c["decode"].get<std::string>());
        EXPECT_EQ(tok.decode(ids, true), c["decode_skip"].get<std::string>());
    }
}

TEST_P(TokenizerGolden, VocabularyLookups) {
    const Tokenizer tok = load_golden_tokenizer(GetParam(), tmp_);
    EXPECT_EQ(tok.vocab_size(), golden_["vocab_size"].get<std::int64_t>());
    for (const auto& [token, id] : golden_["token_to_id"].items()) {
        SCOPED_TRACE(token);
        if (id.is_null()) {
            EXPECT_FALSE(tok.token_to_id(token).has_value());
        } else {
            ASSERT_EQ(tok.token_to_id(token), id.get<std::int32_t>());
            EXPECT_EQ(tok.id_to_token(id.get<std::int32_t>()), token);
        }
    }
    // Every token HF produced maps back to its id. (HF reports an lstrip/rstrip added token
    // with the spaces it swallowed, so those are compared without them.)
    for (const auto& c : golden_["cases"]) {
        const auto ids = c["ids"].get<std::vector<std::int32_t>>();
        const auto tokens = c["tokens"].get<std::vector<std::string>>();
        ASSERT_EQ(ids.size(), tokens.size());
        for (std::size_t i = 0; i < ids.size(); ++i) {
            std::string want = tokens[i];
            if (tok.is_special(ids[i])) {
                want.erase(0, want.find_first_not_of(' '));
                want.erase(want.find_last_not_of(' ') + 1);
            }
            EXPECT_EQ(tok.id_to_token(ids[i]), want);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenizerGolden,
                         ::testing::Values("stories260K", "llama2-tokenizer", "bytelevel-llama3",
                                           "llama2-metaspace", "stories260K-metaspace-legacy",
                                           "bytelevel-gpt2-nfkc", "bytelevel-added-flags"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             for (char& c : name) {
                                 c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             }
                             return name;
                         });

TEST(TokenizerGolden, SpecialTokenIdsFromConfig) {
    const fs::path llama2 = test::data_dir() / "models/llama2-tokenizer";
    if (!fs::exists(llama2 / "tokenizer.json")) {
        GTEST_SKIP() << "shipped data not found at " << llama2;
    }
    const Tokenizer tok = Tokenizer::load(llama2);
    EXPECT_EQ(tok.bos_id(), 1);
    EXPECT_EQ(tok.eos_id(), 2);
    EXPECT_TRUE(tok.is_special(0));
    EXPECT_TRUE(tok.is_special(1));
    EXPECT_TRUE(tok.is_special(2));
    EXPECT_FALSE(tok.is_special(15043));
    EXPECT_EQ(tok.vocab_size(), 32000);

    const Tokenizer bl = Tokenizer::load(test::golden_dir() / "tokenizers/bytelevel-llama3");
    EXPECT_EQ(bl.bos_id(), bl.token_to_id("<|begin_of_text|>"));
    EXPECT_EQ(bl.eos_id(), bl.token_to_id("<|eot_id|>"));
    EXPECT_TRUE(bl.is_special(*bl.eos_id()));
    EXPECT_FALSE(bl.is_special(*bl.token_to_id("the")));
}

}  // namespace
}  // namespace qforge
