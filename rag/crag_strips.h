// What is here: cutting a retrieved chunk into "knowledge strips" for corrective RAG's
// refinement (Yan et al. 2024, section 4.3): sentences, each a byte span of the chunk.
#pragma once

#include <string_view>
#include <vector>

#include "rag/chunker.h"

namespace qforge::rag {

// Sentences of `text`: a strip ends after . ! or ? (and any closing quotes or brackets) that
// is followed by whitespace, or at a line break; strips carry no surrounding whitespace and
// together hold every non-space byte of the text. Strips shorter than `min_bytes` are merged
// into the next one (so "e.g." or "No." alone do not become strips).
std::vector<TextSpan> split_strips(std::string_view text, std::size_t min_bytes = 20);

}  // namespace qforge::rag
