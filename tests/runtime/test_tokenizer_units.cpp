// The tokenizer's parts on their own: the BPE merge loop against a naive reference on random
// words, byte-level and SentencePiece round trips on random text, UTF-8 lossy decoding
// (the Unicode standard's own example), split behaviours (HF's documented example), the
// oniguruma-style find-all, and the Jinja whitespace rules chat templates rely on.
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "runtime/tokenizer/bpe_model.h"
#include "runtime/tokenizer/jinja_tokens.h"
#include "runtime/tokenizer/pre_tokenizer.h"
#include "runtime/tokenizer/regex.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/utf8.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using tokenizer::JsonWhere;

json read_json(const fs::path& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    return json::parse(in);
}

std::string utf8(char32_t c) {
    return tokenizer::utf8_encode(c);
}

// Random valid UTF-8 text mixing ASCII, spaces and newlines, accents, CJK, emoji and ZWJ.
std::string random_text(std::mt19937_64& rng, std::size_t n) {
    static const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {'a', 'z'},       {'A', 'Z'},         {'0', '9'},      {' ', ' '},
        {'\n', '\n'},     {'!', '/'},         {0xE0, 0xFF},    {0x400, 0x44F},
        {0x4E00, 0x4E80}, {0x1F600, 0x1F64F}, {0x200D, 0x200D}};
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        const auto& [lo, hi] = ranges[rng() % ranges.size()];
        s += utf8(lo + static_cast<char32_t>(rng() % (hi - lo + 1)));
    }
    return s;
}

// The BPE rule written as plainly as possible: repeatedly merge the adjacent pair with the
// lowest rank (leftmost on ties) until no pair has a merge.
// nullopt when a character is not in the vocab (the model would fall back to bytes).
std::optional<std::vector<std::int32_t>> naive_bpe(
    const std::vector<std::string>& chars, const json& vocab,
    const std::map<std::pair<std::string, std::string>, int>& rank) {
    for (const auto& c : chars) {
        if (!vocab.contains(c)) {
            return std::nullopt;
        }
    }
    std::vector<std::string> parts = chars;
    while (true) {
        int best = -1;
        std::size_t at = 0;
        for (std::size_t k = 0; k + 1 < parts.size(); ++k) {
            const auto it = rank.find({parts[k], parts[k + 1]});
            if (it != rank.end() && (best < 0 || it->second < best)) {
                best = it->second;
                at = k;
            }
        }
        if (best < 0) {
            break;
        }
        parts[at] += parts[at + 1];
        parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    std::vector<std::int32_t> ids;
    for (const auto& p : parts) {
        ids.push_back(vocab.at(p).get<std::int32_t>());
    }
    return ids;
}

class BpeAgainstNaive : public ::testing::TestWithParam<std::string> {};

TEST_P(BpeAgainstNaive, RandomWords) {
    const fs::path path = GetParam() == "bytelevel-llama3"
                              ? test::golden_dir() / "tokenizers/bytelevel-llama3/tokenizer.json"
                              : test::data_dir() / "models" / GetParam() / "tokenizer.json";
    if (!fs::exists(path)) {
        GTEST_SKIP() << "shipped data not found: " << path;
    }
    json model = read_json(path)["model"];
    model["ignore_merges"] = false;  // the naive rule has no whole-word shortcut
    const auto bpe = tokenizer::BpeModel::from_json(model, JsonWhere{path.string(), "model"});
    std::map<std::pair<std::string, std::string>, int> rank;
    const json& merges = model["merges"];
    for (std::size_t r = 0; r < merges.size(); ++r) {
        rank.emplace(std::pair{merges[r][0].get<std::string>(), merges[r][1].get<std::string>()},
                     static_cast<int>(r));
    }
    std::vector<std::string> tokens;  // real tokens without byte-fallback or special ones
    for (const auto& [tok, id] : model["vocab"].items()) {
        if (tok.size() < 12 && tok.rfind("<", 0) != 0) {
            tokens.push_back(tok);
        }
    }
    std::mt19937_64 rng(test::test_seed());
    int checked = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        // Words glued from 1..6 real tokens, so that many merges apply and overlap.
        std::string word;
        for (std::size_t k = 0, n = 1 + rng() % 6; k < n; ++k) {
            word += tokens[rng() % tokens.size()];
        }
        std::vector<std::string> chars;
        for (std::size_t i = 0; i < word.size();) {
            const std::size_t b = i;
            tokenizer::utf8_next(word, i);
            chars.push_back(word.substr(b, i - b));
        }
        const auto want = naive_bpe(chars, model["vocab"], rank);
        if (!want) {
            continue;
        }
        std::vector<std::int32_t> got;
        bpe.tokenize(word, got);
        ASSERT_EQ(got, *want) << "word: " << word;
        ++checked;
    }
    EXPECT_GT(checked, 2500);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, BpeAgainstNaive,
                         ::testing::Values("stories260K", "llama2-tokenizer", "bytelevel-llama3"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             for (char& c : name) {
                                 c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             }
                             return name;
                         });

// Byte-level BPE loses nothing; SentencePiece-style BPE with byte fallback neither, as long
// as the text holds no "▁" and no special-token text.
TEST(TokenizerRoundTrip, RandomText) {
    const fs::path llama2 = test::data_dir() / "models/llama2-tokenizer";
    if (!fs::exists(llama2 / "tokenizer.json")) {
        GTEST_SKIP() << "shipped data not found at " << llama2;
    }
    const Tokenizer bl = Tokenizer::load(test::golden_dir() / "tokenizers/bytelevel-llama3");
    const Tokenizer sp = Tokenizer::load(llama2);
    std::mt19937_64 rng(test::test_seed());
    for (int trial = 0; trial < 300; ++trial) {
        const std::string text = random_text(rng, 1 + rng() % 60);
        SCOPED_TRACE(::testing::PrintToString(text));
        EXPECT_EQ(bl.decode(bl.encode(text, false)), text);
        EXPECT_EQ(bl.decode(bl.encode(text, true), true), text);
        const auto ids = sp.encode(text, true);
        ASSERT_EQ(ids.front(), 1);  // BOS
        EXPECT_EQ(sp.decode(ids, true), text);
    }
}

// encode() is const and shares the word cache across threads: results must not depend on it.
TEST(TokenizerThreads, ConcurrentEncodeMatchesSerial) {
    const Tokenizer tok = Tokenizer::load(test::golden_dir() / "tokenizers/bytelevel-llama3");
    std::mt19937_64 rng(test::test_seed());
    std::vector<std::string> texts;
    for (int i = 0; i < 400; ++i) {
        texts.push_back(random_text(rng, 1 + rng() % 80));
    }
    const Tokenizer fresh = Tokenizer::load(test::golden_dir() / "tokenizers/bytelevel-llama3");
    std::vector<std::vector<std::int32_t>> serial;
    for (const auto& t : texts) {
        serial.push_back(fresh.encode(t));
    }
    std::vector<std::vector<std::vector<std::int32_t>>> got(4);
    std::vector<std::thread> threads;
    for (std::size_t w = 0; w < got.size(); ++w) {
        threads.emplace_back([&, w] {
            for (std::size_t i = 0; i < texts.size(); ++i) {
                got[w].push_back(tok.encode(texts[(i + 97 * w) % texts.size()]));
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    for (std::size_t w = 0; w < got.size(); ++w) {
        for (std::size_t i = 0; i < texts.size(); ++i) {
            ASSERT_EQ(got[w][i], serial[(i + 97 * w) % texts.size()]);
        }
    }
}

TEST(TokenizerUtf8, LossyDecodingFollowsTheUnicodeStandard) {
    const std::string fffd = utf8(0xFFFD);
    // Unicode 15, section 3.9, table 3-8: <61 F1 80 80 E1 80 C2 62 80 63 80 BF 64>.
    EXPECT_EQ(tokenizer::utf8_lossy("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
              "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
    EXPECT_EQ(tokenizer::utf8_lossy("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate
    EXPECT_EQ(tokenizer::utf8_lossy("\xC0\xAF"), fffd + fffd);             // overlong
    EXPECT_EQ(tokenizer::utf8_lossy("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);
    EXPECT_EQ(tokenizer::utf8_lossy("\xF0\x9F\x98"), fffd);  // truncated at the end
    EXPECT_EQ(tokenizer::utf8_find_invalid("ok\xE2\x82"), 2u);

    std::mt19937_64 rng(test::test_seed());
    for (int trial = 0; trial < 500; ++trial) {
        const std::string text = random_text(rng, 1 + rng() % 30);
        EXPECT_EQ(tokenizer::utf8_lossy(text), text);
        EXPECT_EQ(tokenizer::utf8_find_invalid(text), std::string::npos);
        std::string bytes;
        for (std::size_t i = 0, n = 1 + rng() % 30; i < n; ++i) {
            bytes += static_cast<char>(rng() % 256);
        }
        EXPECT_EQ(tokenizer::utf8_find_invalid(tokenizer::utf8_lossy(bytes)), std::string::npos);
    }
}

// The example in HF's SplitDelimiterBehavior documentation: "the-final--countdown" on "-".
TEST(TokenizerSplit, DelimiterBehaviours) {
    using tokenizer::SplitBehavior;
    const std::string text = "the-final--countdown";
    const tokenizer::Regex dash = tokenizer::Regex::literal("-", JsonWhere{"t", "p"});
    auto pieces = [&](SplitBehavior b, bool invert = false) {
        std::vector<std::string> out;
        for (const auto& [s, e] :
             tokenizer::split_on_matches(text, dash.find_all(text), b, invert)) {
            if (e > s) {
                out.push_back(text.substr(s, e - s));
            }
        }
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(pieces(SplitBehavior::kRemoved), (V{"the", "final", "countdown"}));
    EXPECT_EQ(pieces(SplitBehavior::kIsolated), (V{"the", "-", "final", "-", "-", "countdown"}));
    EXPECT_EQ(pieces(SplitBehavior::kMergedWithPrevious), (V{"the-", "final-", "-", "countdown"}));
    EXPECT_EQ(pieces(SplitBehavior::kMergedWithNext), (V{"the", "-final", "-", "-countdown"}));
    EXPECT_EQ(pieces(SplitBehavior::kContiguous), (V{"the", "-", "final", "--", "countdown"}));
    EXPECT_EQ(pieces(SplitBehavior::kRemoved, true), (V{"-", "-", "-"}));
}

// Empty matches count, but not one right where the previous match ended (onig's find_iter).
TEST(TokenizerRegex, FindAllLikeOniguruma) {
    const tokenizer::Regex xs("x*", JsonWhere{"t", "p"});
    using S = std::vector<tokenizer::Span>;
    EXPECT_EQ(xs.find_all("axb"), (S{{0, 0}, {1, 2}, {3, 3}}));
    EXPECT_EQ(xs.find_all(""), (S{{0, 0}}));
    const tokenizer::Regex ws(R"(\s+)", JsonWhere{"t", "p"});
    EXPECT_EQ(ws.find_all("a \xE1\xA0\x8E b\xC2\x85"), (S{{1, 2}, {5, 6}, {7, 9}}));  // U+180E no
    const tokenizer::Regex nonspace(R"([^\s]+)", JsonWhere{"t", "p"});
    EXPECT_EQ(nonspace.find_all("a\xE1\xA0\x8E"
                                "b c"),
              (S{{0, 5}, {6, 7}}));
}

TEST(TokenizerJinja, WhitespaceControlAsTransformersRendersIt) {
    using K = tokenizer::JinjaToken::Kind;
    auto texts = [](std::string_view src) {
        std::vector<std::string> out;
        const auto tokens = tokenizer::jinja_tokens(src);
        EXPECT_TRUE(tokens.has_value());
        for (const auto& t : tokens.value_or(std::vector<tokenizer::JinjaToken>{})) {
            if (t.kind == K::kText) {
                out.push_back(t.value);
            }
        }
        return out;
    };
    using V = std::vector<std::string>;
    // lstrip_blocks strips the indent before a block tag, trim_blocks the newline after it,
    // and one trailing newline of the template goes.
    EXPECT_EQ(texts("  {% if a %}\nX\n  {% endif %}\n"), (V{"X\n"}));
    EXPECT_EQ(texts("a  {{ b }}  c"), (V{"a  ", "  c"}));    // not for {{ }}
    EXPECT_EQ(texts("a \n {{- b -}} \n c"), (V{"a", "c"}));  // "-" strips all whitespace
    EXPECT_EQ(texts("  {%+ if x %} b"), (V{"  ", " b"}));    // "+" keeps the indent
    EXPECT_EQ(texts("  {% if x %} b"), (V{" b"}));
    EXPECT_EQ(texts("x {# note #}\ny"), (V{"x y"}));  // comments go
    EXPECT_EQ(texts("a\r\nb\rc"), (V{"a\nb\nc"}));
    const auto toks = tokenizer::jinja_tokens(R"({{ m.role + "\u00e9\x41\n" ~ m['x'] }})");
    const std::vector<tokenizer::JinjaToken> want = {{K::kVarBegin, "{{"},
                                                     {K::kName, "m"},
                                                     {K::kOperator, "["},
                                                     {K::kString, "role"},
                                                     {K::kOperator, "]"},
                                                     {K::kOperator, "+"},
                                                     {K::kString,
                                                      "\xC3\xA9"
                                                      "A\n"},
                                                     {K::kOperator, "~"},
                                                     {K::kName, "m"},
                                                     {K::kOperator, "["},
                                                     {K::kString, "x"},
                                                     {K::kOperator, "]"},
                                                     {K::kVarEnd, "}}"}};
    EXPECT_EQ(toks, want);
    EXPECT_FALSE(tokenizer::jinja_tokens("{{ 'open }}").has_value());
    EXPECT_FALSE(tokenizer::jinja_tokens("{% if x").has_value());
}

}  // namespace
}  // namespace qforge
