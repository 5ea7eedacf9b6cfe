// What is here: splitting a document's text into overlapping chunks of at most N tokens,
// cut at paragraph, then sentence, then word boundaries.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

namespace qforge::rag {

struct ChunkOptions {
    std::size_t max_tokens = 256;  // no chunk is longer (by the counter), except one word
    std::size_t overlap = 32;      // tokens a chunk repeats from the end of the previous one
};

// Byte range [offset, offset + length) of the text.
struct TextSpan {
    std::size_t offset = 0;
    std::size_t length = 0;
};

// Number of tokens in a piece of text (a tokenizer's encode(text).size(), or a word count).
using TokenCounter = std::function<std::size_t(std::string_view)>;

// A TokenCounter counting whitespace-separated words.
std::size_t count_words(std::string_view text);

// Chunks `text`. Words (a run of non-space bytes) are never split unless one word alone has
// more than max_tokens tokens (then it is cut at UTF-8 character boundaries). A chunk that is
// not the last one ends at the last paragraph break (blank line) in its second half if there
// is one, else at the last sentence end (. ! ? followed by space) there, else after the last
// word that fits. The next chunk starts up to `overlap` tokens earlier, at a sentence start
// when one lies in that range. Every chunk is re-counted as a whole and shortened if the
// counter says it is over max_tokens. Chunks carry no leading or trailing whitespace; a text
// of only whitespace has no chunks. Requires overlap < max_tokens.
std::vector<TextSpan> chunk_text(std::string_view text, const ChunkOptions& options,
                                 const TokenCounter& count_tokens);

}  // namespace qforge::rag
