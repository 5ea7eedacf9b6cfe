// What is here: retrieval for the `rag` request extension: the k best chunks of the server's
// BM25 index for a query, numbered as sources, and the prompt text that shows them to the
// model ("[1] title (source)\ntext") with an instruction to cite them by number.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rag/bm25_index.h"
#include "serve/openai_request.h"

namespace qforge::serve {

struct RagSource {
    int64_t id = 0;  // [id] in the prompt, from 1
    std::string doc_id, title, source, text;
    uint64_t byte_offset = 0;
    double score = 0.0;
};

// The best chunks for `query`; with options.corrective, chunks scoring under half the best
// one are dropped (weak matches are left out rather than misleading the model).
std::vector<RagSource> retrieve_sources(const rag::Bm25Index& index, std::string_view query,
                                        const RagOptions& options);

// The context block put before the prompt (empty when there are no sources).
std::string sources_block(const std::vector<RagSource>& sources);

}  // namespace qforge::serve
