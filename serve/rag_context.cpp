// What is here: retrieve_sources and sources_block (see rag_context.h).
#include "serve/rag_context.h"

#include <fmt/format.h>

namespace qforge::serve {

namespace {
constexpr std::size_t kMaxChunkChars = 1500;  // per source in the prompt

std::string clip(std::string_view text) {
    if (text.size() <= kMaxChunkChars) {
        return std::string(text);
    }
    std::size_t end = kMaxChunkChars;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;  // back to a UTF-8 character boundary
    }
    return std::string(text.substr(0, end)) + " ...";
}
}  // namespace

std::vector<RagSource> retrieve_sources(const rag::Bm25Index& index, std::string_view query,
                                        const RagOptions& options) {
    const auto hits = index.search(query, static_cast<std::size_t>(options.k));
    std::vector<RagSource> out;
    for (const auto& h : hits) {
        if (options.corrective && !hits.empty() && h.score < 0.5 * hits.front().score) {
            continue;
        }
        const rag::ChunkView c = index.chunk(h.chunk);
        RagSource s;
        s.id = static_cast<int64_t>(out.size()) + 1;
        s.doc_id = std::string(c.doc_id);
        s.title = std::string(c.title);
        s.source = std::string(c.source);
        s.text = clip(c.text);
        s.byte_offset = c.byte_offset;
        s.score = h.score;
        out.push_back(std::move(s));
    }
    return out;
}

std::string sources_block(const std::vector<RagSource>& sources) {
    if (sources.empty()) {
        return {};
    }
    std::string out = "Answer using the sources below; cite them by number, like [1].\n\n";
    for (const auto& s : sources) {
        out += fmt::format("[{}] {}{}\n{}\n\n", s.id, s.title.empty() ? s.doc_id : s.title,
                           s.source.empty() ? "" : " (" + s.source + ")", s.text);
    }
    return out;
}

}  // namespace qforge::serve
