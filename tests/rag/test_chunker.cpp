// What is here: chunk boundaries, sizes and overlap, with a word counter and with the Llama-2
// tokenizer.
#include <cctype>
#include <gtest/gtest.h>
#include <random>
#include <string>

#include "kernels/common.h"
#include "rag/chunker.h"
#include "rag/index_build.h"
#include "runtime/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace qforge::rag {
namespace {

std::string_view span_text(std::string_view text, TextSpan s) {
    return text.substr(s.offset, s.length);
}

// Random "sentences" of random words; paragraphs separated by blank lines.
std::string random_text(std::size_t paragraphs, std::mt19937_64& rng) {
    std::uniform_int_distribution<int> len(1, 9), words(4, 15), sentences(1, 5);
    std::string text;
    for (std::size_t p = 0; p < paragraphs; ++p) {
        const int ns = sentences(rng);
        for (int s = 0; s < ns; ++s) {
            const int nw = words(rng);
            for (int w = 0; w < nw; ++w) {
                const int nl = len(rng);
                for (int l = 0; l < nl; ++l) {
                    text += static_cast<char>('a' + rng() % 26);
                }
                text += w + 1 == nw ? ". " : " ";
            }
        }
        text += "\n\n";
    }
    return text;
}

// Properties every chunking must have: within budget, trimmed, ordered, covering every
// word, consecutive chunks overlapping by at most `overlap` tokens.
void check_chunks(std::string_view text, const std::vector<TextSpan>& spans,
                  const ChunkOptions& opt, const TokenCounter& count) {
    ASSERT_FALSE(spans.empty());
    std::size_t covered = 0;  // bytes before this offset are covered
    for (std::size_t i = 0; i < spans.size(); ++i) {
        const auto s = span_text(text, spans[i]);
        SCOPED_TRACE("chunk " + std::to_string(i));
        EXPECT_LE(count(s), opt.max_tokens);
        EXPECT_FALSE(std::isspace(static_cast<unsigned char>(s.front())));
        EXPECT_FALSE(std::isspace(static_cast<unsigned char>(s.back())));
        if (i > 0) {
            const TextSpan prev = spans[i - 1];
            EXPECT_GT(spans[i].offset, prev.offset);
            const std::size_t prev_end = prev.offset + prev.length;
            // No gap holding a word between chunks.
            if (spans[i].offset > prev_end) {
                EXPECT_EQ(count_words(text.substr(prev_end, spans[i].offset - prev_end)), 0u);
            } else {
                EXPECT_LE(count(text.substr(spans[i].offset, prev_end - spans[i].offset)),
                          opt.overlap + 2);  // per-word estimate vs whole-span count
            }
        }
        covered = spans[i].offset + spans[i].length;
    }
    EXPECT_EQ(count_words(text.substr(covered)), 0u);
    EXPECT_EQ(count_words(text.substr(0, spans[0].offset)), 0u);
}

TEST(Chunker, WordCounterBoundariesAndOverlap) {
    std::mt19937_64 rng(test::test_seed());
    const std::string text = random_text(30, rng);
    const ChunkOptions opt{50, 10};
    const auto spans = chunk_text(text, opt, count_words);
    check_chunks(text, spans, opt, count_words);
    EXPECT_GT(spans.size(), 5u);
    // Every chunk but the last ends at a sentence end (these sentences are <= 15 words, so
    // the second half of a 50-word window always holds one).
    for (std::size_t i = 0; i + 1 < spans.size(); ++i) {
        EXPECT_EQ(span_text(text, spans[i]).back(), '.') << "chunk " << i;
    }
    // With a sentence start inside the overlap window, the next chunk starts a sentence.
    std::size_t sentence_starts = 0;
    for (std::size_t i = 1; i < spans.size(); ++i) {
        const std::size_t off = spans[i].offset;
        const std::string_view before = std::string_view(text).substr(0, off);
        const auto last = before.find_last_not_of(" \n");
        sentence_starts += (last != std::string_view::npos && before[last] == '.');
    }
    EXPECT_GT(sentence_starts, spans.size() / 2);
}

TEST(Chunker, PrefersParagraphBreaks) {
    // Paragraph 1: 30 words, paragraph 2: 30 words; budget 40 -> first chunk is paragraph 1.
    std::string p1, p2;
    for (int i = 0; i < 30; ++i) {
        p1 += "alpha" + std::to_string(i) + (i % 7 == 6 ? ". " : " ");
        p2 += "beta" + std::to_string(i) + (i % 7 == 6 ? ". " : " ");
    }
    const std::string text = p1 + "\n\n" + p2;
    const auto spans = chunk_text(text, {40, 5}, count_words);
    ASSERT_GE(spans.size(), 2u);
    EXPECT_EQ(span_text(text, spans[0]), std::string_view(p1).substr(0, p1.size() - 1));
}

TEST(Chunker, SmallTextIsOneChunkAndBlankTextNone) {
    const std::string text = "  \n Hello there, world.  \n";
    const auto spans = chunk_text(text, {256, 32}, count_words);
    ASSERT_EQ(spans.size(), 1u);
    EXPECT_EQ(span_text(text, spans[0]), "Hello there, world.");
    EXPECT_EQ(spans[0].offset, 4u);
    EXPECT_TRUE(chunk_text(" \n\t ", {256, 32}, count_words).empty());
    EXPECT_THROW(chunk_text(text, {10, 10}, count_words), Error);
    EXPECT_THROW(chunk_text(text, {0, 0}, count_words), Error);
}

TEST(Chunker, OverlongWordIsSplitAtCharacterBoundaries) {
    // Counter: one token per 4 bytes. A 100-byte word of 2-byte characters under max 5.
    const TokenCounter by_bytes = [](std::string_view s) {
        return (s.size() + 3) / 4;
    };
    std::string word;
    for (int i = 0; i < 50; ++i) {
        word += "\xC3\xA9";  // é
    }
    const std::string text = "start " + word + " end";
    const auto spans = chunk_text(text, {5, 1}, by_bytes);
    for (const auto& s : spans) {
        const auto t = span_text(text, s);
        EXPECT_LE(by_bytes(t), 5u);
        EXPECT_NE(static_cast<unsigned char>(t.front()) & 0xC0, 0x80) << "cut inside a character";
    }
    EXPECT_EQ(span_text(text, spans.back()).substr(span_text(text, spans.back()).size() - 3),
              "end");
}

TEST(Chunker, LlamaTokenizerBudgetIsExact) {
    const auto dir = test::data_dir() / "models" / "llama2-tokenizer";
    if (!std::filesystem::exists(dir)) {
        GTEST_SKIP() << "no " << dir;
    }
    const Tokenizer tok = Tokenizer::load(dir);
    const TokenCounter count = [&](std::string_view s) {
        return tok.encode(s, false).size();
    };
    std::mt19937_64 rng(test::test_seed());
    const std::string text = random_text(20, rng);
    const ChunkOptions opt{64, 8};
    const auto spans = chunk_text(text, opt, count);
    check_chunks(text, spans, opt, count);
    EXPECT_GT(spans.size(), 10u);
}

}  // namespace
}  // namespace qforge::rag

namespace qforge::rag {
namespace {

TEST(Chunker, WordPieceTokenizerBudgetIsExact) {
    const auto dir = test::data_dir() / "models" / "all-MiniLM-L6-v2-tokenizer";
    if (!std::filesystem::exists(dir)) {
        GTEST_SKIP() << "no " << dir;
    }
    const TokenCounter count = make_token_counter(dir.string());
    EXPECT_EQ(count("Hello, world"), 3u);  // hello , world (no [CLS]/[SEP])
    std::mt19937_64 rng(test::test_seed());
    const std::string text = random_text(20, rng);
    const ChunkOptions opt{64, 8};
    const auto spans = chunk_text(text, opt, count);
    check_chunks(text, spans, opt, count);
    EXPECT_GT(spans.size(), 10u);
}

}  // namespace
}  // namespace qforge::rag
