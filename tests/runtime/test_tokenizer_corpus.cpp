// The whole SQuAD rag corpus (2067 paragraphs, 1.7 MB) through each shipped tokenizer: every
// document's token count and an FNV-1a hash of the full id stream must equal what HF
// tokenizers produced (tests/golden/tokenizers/corpus.json), and encoding must take seconds.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// FNV-1a 64 over the ids as little-endian uint32 bytes, as the golden script computes it.
std::uint64_t fnv1a64(const std::vector<std::int32_t>& ids) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const std::int32_t id : ids) {
        const auto u = static_cast<std::uint32_t>(id);
        for (int k = 0; k < 4; ++k) {
            h ^= (u >> (8 * k)) & 0xFF;
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

class TokenizerCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerCorpus, SquadMatchesHuggingFaceInSeconds) {
    const fs::path corpus = test::data_dir() / "datasets/squad-v1.1-dev/rag_corpus.jsonl";
    const fs::path dir = GetParam() == "bytelevel-llama3"
                             ? test::golden_dir() / "tokenizers/bytelevel-llama3"
                             : test::data_dir() / "models" / GetParam();
    if (!fs::exists(corpus) || !fs::exists(dir / "tokenizer.json")) {
        GTEST_SKIP() << "shipped data not found under " << test::data_dir();
    }
    std::ifstream gin(test::golden_dir() / "tokenizers/corpus.json");
    const json golden = json::parse(gin)[GetParam()];
    std::vector<std::string> docs;
    std::ifstream in(corpus);
    for (std::string line; std::getline(in, line);) {
        docs.push_back(json::parse(line)["text"].get<std::string>());
    }
    ASSERT_EQ(docs.size(), golden["n_docs"].get<std::size_t>());

    const Tokenizer tok = Tokenizer::load(dir);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::int32_t> all;
    std::vector<std::size_t> lengths;
    for (const std::string& doc : docs) {
        const auto ids = tok.encode(doc, false);
        lengths.push_back(ids.size());
        all.insert(all.end(), ids.begin(), ids.end());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto want = golden["doc_lengths"].get<std::vector<std::size_t>>();
    for (std::size_t d = 0; d < docs.size(); ++d) {
        ASSERT_EQ(lengths[d], want[d]) << "first differing document: " << d;
    }
    EXPECT_EQ(all.size(), golden["n_tokens"].get<std::size_t>());
    EXPECT_EQ(fmt::format("{:016x}", fnv1a64(all)), golden["fnv1a64"].get<std::string>());
    std::printf("[ corpus   ] %s: %zu docs, %zu tokens in %.2f s\n", GetParam().c_str(),
                docs.size(), all.size(), seconds);
    EXPECT_LT(seconds, 15.0) << "encoding 1.7 MB should take seconds";
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenizerCorpus,
                         ::testing::Values("stories260K", "llama2-tokenizer", "bytelevel-llama3"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             for (char& c : name) {
                                 c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             }
                             return name;
                         });

}  // namespace
}  // namespace qforge
