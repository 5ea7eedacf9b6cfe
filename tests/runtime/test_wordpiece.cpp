// WordPieceTokenizer against Hugging Face tokenizers 0.23 (tests/golden/bert/tokenizer_ids.json,
// made by tests/golden/make_golden_bert.py from the shipped MiniLM tokenizer): ASCII, accents,
// CJK, kana, Hangul, punctuation, symbols, control and whitespace characters, over-long words,
// special tokens inside the text, truncation to 512. Both loaders (tokenizer.json and
// vocab.txt + tokenizer_config.json) must give the same ids. Bad files give one named Error.
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "kernels/common.h"
#include "runtime/tokenizer/wordpiece.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path minilm_dir() {
    return test::data_dir() / "models" / "all-MiniLM-L6-v2-tokenizer";
}

json golden_ids() {
    std::ifstream in(test::golden_dir() / "bert" / "tokenizer_ids.json");
    EXPECT_TRUE(in.good());
    return json::parse(in);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "<no error>";
}

void expect_golden(const WordPieceTokenizer& tok, const json& cases) {
    ASSERT_GT(cases.size(), 30u);
    for (const json& c : cases) {
        const std::string text = c["text"];
        const auto expected = c["ids"].get<std::vector<int32_t>>();
        EXPECT_EQ(tok.encode(text, 1 << 20), expected) << "text: " << text;
    }
}

TEST(WordPiece, TokenizerJsonMatchesHuggingFace) {
    const auto tok = WordPieceTokenizer::from_tokenizer_json(minilm_dir() / "tokenizer.json");
    EXPECT_EQ(tok.vocab_size(), 30522);
    EXPECT_EQ(tok.prefix_ids(), std::vector<int32_t>{101});
    EXPECT_EQ(tok.suffix_ids(), std::vector<int32_t>{102});
    EXPECT_EQ(tok.unk_id(), 100);
    EXPECT_EQ(tok.pad_id(), 0);
    expect_golden(tok, golden_ids()["cases"]);
}

TEST(WordPiece, VocabTxtMatchesHuggingFace) {
    // Only vocab.txt and tokenizer_config.json are copied: load() must take the vocab route.
    test::TempDir dir;
    fs::copy_file(minilm_dir() / "vocab.txt", dir.path() / "vocab.txt");
    fs::copy_file(minilm_dir() / "tokenizer_config.json", dir.path() / "tokenizer_config.json");
    const auto tok = WordPieceTokenizer::load(dir.path());
    EXPECT_EQ(tok.vocab_size(), 30522);
    const json golden = golden_ids();
    expect_golden(tok, golden["cases"]);
    // transformers' own vocab.txt route agreed with tokenizer.json on every string.
    for (std::size_t i = 0; i < golden["cases"].size(); i++) {
        EXPECT_EQ(golden["vocab_txt_ids"][i], golden["cases"][i]["ids"]);
    }
}

TEST(WordPiece, TruncationKeepsSep) {
    const auto tok = WordPieceTokenizer::load(minilm_dir());
    const json golden = golden_ids();
    const json& lng = golden["long"];
    const auto ids = tok.encode(lng["text"].get<std::string>(), 512);
    EXPECT_EQ(ids, lng["ids"].get<std::vector<int32_t>>());
    ASSERT_EQ(ids.size(), 512u);
    EXPECT_EQ(ids.front(), 101);
    EXPECT_EQ(ids.back(), 102);
    // Untruncated length as HF counted it, and a cut at any length keeps the same prefix.
    const auto full = tok.encode(lng["text"].get<std::string>(), 1 << 20);
    EXPECT_EQ(static_cast<int64_t>(full.size()), lng["untruncated_length"].get<int64_t>());
    const auto short_ids = tok.encode(lng["text"].get<std::string>(), 7);
    ASSERT_EQ(short_ids.size(), 7u);
    EXPECT_EQ(std::vector<int32_t>(short_ids.begin(), short_ids.end() - 1),
              std::vector<int32_t>(full.begin(), full.begin() + 6));
    EXPECT_EQ(short_ids.back(), 102);
    EXPECT_EQ(tok.encode("hello", 2), (std::vector<int32_t>{101, 102}));
    EXPECT_NE(error_of([&] { (void)tok.encode("hello", 1); }).find("max_length 1"),
              std::string::npos);
}

TEST(WordPiece, RandomBytesNeverFail) {
    // Arbitrary bytes (invalid UTF-8 included) tokenize to in-range ids framed by [CLS] [SEP],
    // and every piece after the first of a word carries the "##" prefix or is a whole word.
    const auto tok = WordPieceTokenizer::load(minilm_dir());
    std::mt19937_64 rng(test::test_seed());
    for (int round = 0; round < 200; round++) {
        std::string text(rng() % 64, '\0');
        for (char& c : text) {
            c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 'a' + rng() % 26);
        }
        const auto ids = tok.encode(text, 40);
        ASSERT_GE(ids.size(), 2u);
        ASSERT_LE(ids.size(), 40u);
        EXPECT_EQ(ids.front(), 101);
        EXPECT_EQ(ids.back(), 102);
        for (int32_t id : ids) {
            ASSERT_TRUE(id >= 0 && id < tok.vocab_size()) << id;
        }
    }
}

TEST(WordPiece, BadFilesNameTheField) {
    test::TempDir dir;
    std::ifstream in(minilm_dir() / "tokenizer.json");
    const json good = json::parse(in);
    auto write = [&](const json& j) {
        const fs::path p = dir.path() / "tokenizer.json";
        std::ofstream(p) << j.dump();
        return p;
    };
    auto load_error = [&](const json& j) {
        return error_of([&] { (void)WordPieceTokenizer::from_tokenizer_json(write(j)); });
    };
    json j = good;
    j["model"]["type"] = "BPE";
    EXPECT_NE(load_error(j).find("model.type \"BPE\" is not supported (expected WordPiece)"),
              std::string::npos)
        << load_error(j);
    j = good;
    j["model"]["unk_token"] = "<nope>";
    EXPECT_NE(load_error(j).find("model.unk_token: token \"<nope>\" is not in the vocabulary"),
              std::string::npos)
        << load_error(j);
    j = good;
    j["normalizer"] = {{"type", "NFC"}};
    EXPECT_NE(load_error(j).find("normalizer.type \"NFC\" is not supported"), std::string::npos);
    j = good;
    j["pre_tokenizer"] = {{"type", "Whitespace"}};
    EXPECT_NE(load_error(j).find("pre_tokenizer.type \"Whitespace\" is not supported"),
              std::string::npos);
    j = good;
    j["normalizer"]["lowercase"] = "yes";
    EXPECT_NE(load_error(j).find("normalizer.lowercase expected true or false"), std::string::npos)
        << load_error(j);
    j = good;
    j["added_tokens"][1]["lstrip"] = true;
    EXPECT_NE(load_error(j).find("added_tokens[1].lstrip true is not supported"), std::string::npos)
        << load_error(j);
    j = good;
    j["model"]["vocab"]["hello"] = "x";
    EXPECT_NE(load_error(j).find("model.vocab.hello expected an integer id"), std::string::npos)
        << load_error(j);
    std::ofstream(dir.path() / "tokenizer.json") << "{ not json";
    EXPECT_NE(error_of([&] {
                  (void)WordPieceTokenizer::from_tokenizer_json(dir.path() / "tokenizer.json");
              }).find("not valid JSON"),
              std::string::npos);
    test::TempDir empty;
    EXPECT_NE(error_of([&] {
                  (void)WordPieceTokenizer::load(empty.path());
              }).find("expected tokenizer.json or vocab.txt"),
              std::string::npos);
}

TEST(WordPiece, CasedVocabKeepsCaseAndAccents) {
    // do_lower_case false: no lowercasing and (strip_accents null) no accent stripping.
    test::TempDir dir;
    std::ofstream(dir.path() / "vocab.txt")
        << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\nhello\n##lo\nHel\nCafé\nCafe\n!\n";
    std::ofstream(dir.path() / "tokenizer_config.json") << R"({"do_lower_case": false})";
    const auto tok = WordPieceTokenizer::load(dir.path());
    EXPECT_EQ(tok.encode("Hello hello Café Cafe! HELLO", 64),
              (std::vector<int32_t>{2, 5, 6, 9, 10, 11, 1, 3}));
    std::ofstream(dir.path() / "tokenizer_config.json") << R"({"do_lower_case": true})";
    const auto lower = WordPieceTokenizer::load(dir.path());
    EXPECT_EQ(lower.encode("HELLO Café [MASK]", 64), (std::vector<int32_t>{2, 6, 1, 4, 3}));
}

}  // namespace
}  // namespace qforge
