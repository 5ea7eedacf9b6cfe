// Bad tokenizer.json / tokenizer_config.json files and bad calls: each must give one
// qforge::Error naming the file and the JSON path of the problem and what was expected.
// Also small hand-checkable BPE behaviours (merge formats, unk fusing, byte fallback).
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/common.h"
#include "runtime/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A small valid tokenizer: characters a b c, merges (a b) then (ab c), unk, BOS template.
json tiny() {
    return json::parse(R"({
      "version": "1.0",
      "added_tokens": [
        {"id": 0, "content": "<unk>", "special": true, "normalized": false,
         "lstrip": false, "rstrip": false, "single_word": false},
        {"id": 1, "content": "<s>", "special": true, "normalized": false,
         "lstrip": false, "rstrip": false, "single_word": false}],
      "normalizer": null,
      "pre_tokenizer": null,
      "post_processor": {"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
      "decoder": {"type": "Fuse"},
      "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true,
        "byte_fallback": false, "ignore_merges": false,
        "vocab": {"<unk>": 0, "<s>": 1, "a": 2, "b": 3, "c": 4, "ab": 5, "abc": 6},
        "merges": [["a", "b"], ["ab", "c"]]}
    })");
}

class TokenizerErrors : public ::testing::Test {
protected:
    fs::path write_text(const std::string& text, const std::string& name = "tokenizer.json") {
        const fs::path path = tmp_.path() / name;
        std::ofstream(path) << text;
        return path;
    }

    fs::path write(const json& j) { return write_text(j.dump()); }

    // The message of the qforge::Error that loading `path` throws.
    static std::string load_error(const fs::path& path) {
        try {
            Tokenizer::load(path);
        } catch (const Error& e) {
            return e.what();
        }
        return "(loaded without error)";
    }

    test::TempDir tmp_;
};

#define EXPECT_HAS(haystack, needle)                               \
    do {                                                           \
        const std::string text_ = (haystack);                      \
        EXPECT_NE(text_.find(needle), std::string::npos) << text_; \
    } while (0)

TEST_F(TokenizerErrors, NotJsonOrNotAnObject) {
    const fs::path path = write_text("{\"model\": {\"vocab\": ");
    const std::string err = load_error(path);
    EXPECT_HAS(err, path.string());
    EXPECT_HAS(err, "not valid JSON");
    EXPECT_HAS(load_error(write_text("[1, 2]")), "should be a JSON object");
    EXPECT_HAS(load_error(tmp_.path() / "missing"), "no tokenizer.json");
}

TEST_F(TokenizerErrors, ModelFields) {
    json j = tiny();
    j.erase("model");
    EXPECT_HAS(load_error(write(j)), "tokenizer.json: model is missing");

    j = tiny();
    j["model"].erase("vocab");
    EXPECT_HAS(load_error(write(j)), "tokenizer.json: model.vocab is missing");

    j = tiny();
    j["model"]["vocab"] = json::array({"a", "b"});
    EXPECT_HAS(load_error(write(j)), "model.vocab should be a JSON object, got array");

    j = tiny();
    j["model"]["vocab"]["a"] = "two";
    EXPECT_HAS(load_error(write(j)), "model.vocab entry \"a\" should map to an id >= 0");

    j = tiny();
    j["model"]["type"] = "Unigram";
    EXPECT_HAS(load_error(write(j)),
               "tokenizer.json: model.type \"Unigram\" is not supported (expected BPE)");

    j = tiny();
    j["model"]["dropout"] = 0.1;
    EXPECT_HAS(load_error(write(j)), "model.dropout is 0.1");

    j = tiny();
    j["model"]["merges"] = "a b";
    EXPECT_HAS(load_error(write(j)), "model.merges should be a JSON array");
}

TEST_F(TokenizerErrors, MergesOfTheWrongShape) {
    for (const json& bad :
         {json("a  b"), json("ab"), json::array({"a"}), json::array({"a", "b", "c"}), json(7)}) {
        json j = tiny();
        j["model"]["merges"][1] = bad;
        const std::string err = load_error(write(j));
        EXPECT_HAS(err, "tokenizer.json: model.merges[1] should be \"a b\" or [\"a\", \"b\"]");
    }
    json j = tiny();
    j["model"]["merges"][1] = json::array({"ab", "zz"});
    EXPECT_HAS(load_error(write(j)), "model.merges[1] uses \"zz\", which is not in model.vocab");
    j = tiny();
    j["model"]["merges"][1] = "b c";
    EXPECT_HAS(load_error(write(j)), "model.merges[1] makes \"bc\", which is not in model.vocab");
}

TEST_F(TokenizerErrors, UnknownComponentsNameTheirPath) {
    json j = tiny();
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers", json::array({{{"type", "NFC"}}, {{"type", "Bert"}}})}};
    EXPECT_HAS(load_error(write(j)), "normalizer.normalizers[1].type \"Bert\" is not supported");

    j = tiny();
    j["pre_tokenizer"] = {{"type", "Whitespace"}};
    EXPECT_HAS(load_error(write(j)), "pre_tokenizer.type \"Whitespace\" is not supported");

    j = tiny();
    j["pre_tokenizer"] = {{"type", "Split"},
                          {"pattern", {{"Regex", "(ab"}}},
                          {"behavior", "Isolated"},
                          {"invert", false}};
    EXPECT_HAS(load_error(write(j)), "pre_tokenizer.pattern.Regex regex /(ab/ does not compile");

    j["pre_tokenizer"]["pattern"] = {{"Regex", "a"}};
    j["pre_tokenizer"]["behavior"] = "Sideways";
    EXPECT_HAS(load_error(write(j)), "pre_tokenizer.behavior \"Sideways\" is not a split behavior");

    j["pre_tokenizer"]["behavior"] = "Isolated";
    j["pre_tokenizer"]["pattern"] = {{"Glob", "a*"}};
    EXPECT_HAS(load_error(write(j)), "pre_tokenizer.pattern should be {\"String\": ...}");

    j = tiny();
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "ab"}};
    EXPECT_HAS(load_error(write(j)), "pre_tokenizer.replacement should be one character");

    j = tiny();
    j["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}};
    EXPECT_HAS(load_error(write(j)), "decoder.type \"WordPiece\" is not supported");

    j = tiny();
    j["post_processor"]["type"] = "Frobnicate";
    EXPECT_HAS(load_error(write(j)), "post_processor.type \"Frobnicate\" is not supported");

    j = tiny();
    j["post_processor"]["special_tokens"] = json::object();
    EXPECT_HAS(load_error(write(j)), "post_processor.special_tokens has no entry for \"<s>\"");

    j = tiny();
    j["added_tokens"][1].erase("content");
    EXPECT_HAS(load_error(write(j)), "added_tokens[1].content is missing");

    j = tiny();
    j["normalizer"] = "NFC";
    EXPECT_HAS(load_error(write(j)), "normalizer should be a JSON object with a \"type\"");
}

TEST_F(TokenizerErrors, ConfigProblemsNameTheConfig) {
    write(tiny());
    const fs::path cfg = write_text("{\"bos_token\": ", "tokenizer_config.json");
    std::string err = load_error(tmp_.path());
    EXPECT_HAS(err, cfg.string());
    EXPECT_HAS(err, "not valid JSON");

    write_text(R"({"bos_token": {"content": "<bos>"}})", "tokenizer_config.json");
    err = load_error(tmp_.path());
    EXPECT_HAS(err, "tokenizer_config.json: bos_token \"<bos>\" is not in the vocabulary");

    write_text(R"({"eos_token": 5})", "tokenizer_config.json");
    EXPECT_HAS(load_error(tmp_.path()), "tokenizer_config.json: eos_token should be a string");

    write_text(R"({"chat_template": [{"name": "rag", "template": "x"}]})", "tokenizer_config.json");
    EXPECT_HAS(load_error(tmp_.path()), "chat_template has no template named \"default\"");

    write_text(R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": null})",
               "tokenizer_config.json");
    const Tokenizer tok = Tokenizer::load(tmp_.path());
    EXPECT_EQ(tok.bos_id(), 1);
    EXPECT_FALSE(tok.eos_id().has_value());
}

TEST_F(TokenizerErrors, BadCalls) {
    const Tokenizer tok = Tokenizer::load(write(tiny()));
    try {
        tok.encode("ab\xC3(c");
        ADD_FAILURE() << "invalid UTF-8 accepted";
    } catch (const Error& e) {
        EXPECT_HAS(e.what(), "not valid UTF-8 (byte 2 of 5)");
    }
    try {
        tok.id_to_token(99);
        ADD_FAILURE() << "unknown id accepted";
    } catch (const Error& e) {
        EXPECT_HAS(e.what(), "id 99 is not in the vocabulary");
    }
    json j = tiny();
    j["model"]["unk_token"] = "<oov>";
    const Tokenizer no_unk = Tokenizer::load(write(j));
    EXPECT_EQ(no_unk.encode("abc", false), std::vector<std::int32_t>{6});
    try {
        no_unk.encode("abz", false);
        ADD_FAILURE() << "missing unk_token not reported";
    } catch (const Error& e) {
        EXPECT_HAS(e.what(), "unk_token \"<oov>\" is not in the vocab");
    }
}

// Spec behaviours small enough to check by hand.
TEST_F(TokenizerErrors, HandCheckedBpeBehaviour) {
    json j = tiny();
    const Tokenizer pairs = Tokenizer::load(write(j));
    j["model"]["merges"] = json::array({"a b", "ab c"});
    const Tokenizer strings = Tokenizer::load(write(j));
    for (const char* text : {"abcab", "cba", "aabbcc", "abcabc"}) {
        EXPECT_EQ(pairs.encode(text, false), strings.encode(text, false)) << text;
    }
    EXPECT_EQ(pairs.encode("abcab", true), (std::vector<std::int32_t>{1, 6, 5}));
    // Unknown characters: fused into one <unk> per run, or one each.
    EXPECT_EQ(pairs.encode("abxyab", false), (std::vector<std::int32_t>{5, 0, 5}));
    j["model"]["fuse_unk"] = false;
    EXPECT_EQ(Tokenizer::load(write(j)).encode("abxyab", false),
              (std::vector<std::int32_t>{5, 0, 0, 5}));
    // Byte fallback: a character missing from the vocab becomes its UTF-8 bytes.
    j["model"]["byte_fallback"] = true;
    j["model"]["vocab"]["<0xC3>"] = 7;
    j["model"]["vocab"]["<0xA9>"] = 8;
    j["decoder"] = {{"type", "Sequence"},
                    {"decoders", json::array({{{"type", "ByteFallback"}}, {{"type", "Fuse"}}})}};
    const Tokenizer bytes = Tokenizer::load(write(j));
    EXPECT_EQ(bytes.encode("a\xC3\xA9", false), (std::vector<std::int32_t>{2, 7, 8}));
    EXPECT_EQ(bytes.encode("a\xC3\xA8", false), (std::vector<std::int32_t>{2, 0}));  // no <0xA8>
    EXPECT_EQ(bytes.decode(std::vector<std::int32_t>{7, 8, 2}),
              "\xC3\xA9"
              "a");
    EXPECT_EQ(bytes.decode(std::vector<std::int32_t>{8, 7, 2}),
              "\xEF\xBF\xBD\xEF\xBF\xBD"
              "a");  // invalid UTF-8: one U+FFFD per byte
    EXPECT_EQ(bytes.decode(std::vector<std::int32_t>{1, 6, 1000}, true), "abc");
    EXPECT_EQ(bytes.vocab_size(), 9);
}

}  // namespace
}  // namespace qforge
