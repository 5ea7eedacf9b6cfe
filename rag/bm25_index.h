// What is here: Bm25Index, a loaded (memory-mapped) on-disk index: chunk and document
// lookup, term postings, and BM25 top-k search.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rag/fusion.h"
#include "rag/index_format.h"
#include "rag/mapped_file.h"

namespace qforge::rag {

struct ChunkView {
    std::string_view text;
    std::string_view doc_id;
    std::string_view title;
    std::string_view source;
    std::uint64_t byte_offset = 0;
    std::uint32_t doc = 0;
    std::uint32_t num_terms = 0;
};

struct DocumentView {
    std::string_view id;
    std::string_view title;
    std::string_view source;
    std::uint64_t content_hash = 0;
};

class Bm25Index {
public:
    // Reads manifest.json and maps the files it names. Another format version, a missing,
    // truncated or corrupt file (size, magic, checksum, out-of-range record) is a
    // qforge::Error naming the file.
    static Bm25Index load(const std::filesystem::path& dir);

    const IndexManifest& manifest() const { return manifest_; }

    // The directory it was loaded from.
    const std::filesystem::path& dir() const { return dir_; }

    std::size_t num_chunks() const { return static_cast<std::size_t>(manifest_.counts.chunks); }

    std::size_t num_documents() const {
        return static_cast<std::size_t>(manifest_.counts.documents);
    }

    std::size_t num_terms() const { return static_cast<std::size_t>(manifest_.counts.terms); }

    double avg_chunk_terms() const;

    ChunkView chunk(std::size_t i) const;
    DocumentView document(std::size_t i) const;

    // The i-th term in sorted order, and its postings.
    std::string_view term(std::size_t i) const;
    std::vector<Posting> postings_at(std::size_t i) const;

    // Number of chunks holding an (already analysed) term; 0 when absent.
    std::uint32_t document_frequency(std::string_view term) const;

    // Postings of an (already analysed) term; empty when absent.
    std::vector<Posting> postings(std::string_view term) const;

    // Analyses `query` as the chunks were and returns the k best chunks, best first (ties by
    // chunk id); chunks sharing no term with the query are not returned.
    std::vector<ScoredChunk> search(std::string_view query, std::size_t k) const;

    // The same with explicit parameters (the manifest's are the defaults).
    std::vector<ScoredChunk> search(std::string_view query, std::size_t k,
                                    const Bm25Params& params) const;

private:
    std::optional<std::size_t> find_term(std::string_view term) const;
    TermRecord term_record(std::size_t i) const;
    std::string_view chunks_string(std::uint64_t off, std::uint32_t len) const;
    std::string_view postings_string(std::uint64_t off, std::uint32_t len) const;

    std::filesystem::path dir_;
    IndexManifest manifest_;
    MappedFile chunks_map_;
    MappedFile postings_map_;
    // Views into the mapped payloads.
    const char* doc_table_ = nullptr;
    const char* chunk_table_ = nullptr;
    std::string_view chunks_blob_;
    const char* term_table_ = nullptr;
    const char* posting_table_ = nullptr;
    std::string_view postings_blob_;
};

}  // namespace qforge::rag
