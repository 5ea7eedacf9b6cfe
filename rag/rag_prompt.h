// What is here: the prompt of retrieval-augmented generation: numbered context passages
// [1], [2], ... and the question, fitted to the model's context, and the citations [n] an
// answer makes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"

namespace qforge::rag {

// A passage of context and where it came from (what a citation [n] points to).
struct ContextSource {
    std::uint32_t chunk = 0;
    std::string text;
    std::string doc_id, title, source;
    std::uint64_t byte_offset = 0;  // of `text` in its document
};

struct RagPrompt {
    std::string text;
    std::vector<std::int32_t> ids;     // BOS + text
    std::vector<ContextSource> used;   // passage n is used[n - 1]
    std::size_t dropped_passages = 0;  // that did not fit
    bool truncated = false;            // the last passage kept was cut to fit
};

// "Use the numbered context passages to answer the question. Cite the passages you use like
//  [1].\n\nContext:\n[1] <title>: <text>\n[2] ...\n\nQuestion: <question>\nAnswer:"
// fitted into max_tokens (BOS included): passages are dropped from the end, then the last one
// left is cut (at a UTF-8 boundary) until the prompt fits. A question that does not fit with
// no context at all is a qforge::Error.
RagPrompt build_rag_prompt(const std::string& question, const std::vector<ContextSource>& sources,
                           const Tokenizer& tokenizer, std::size_t max_tokens);

// The passage numbers cited as [n] in `answer` (1 <= n <= passages), in first-cited order.
std::vector<std::size_t> cited_passages(const std::string& answer, std::size_t passages);

}  // namespace qforge::rag
