// What is here: the on-disk retrieval index layout (docs/index-format.md): the manifest, the
// binary files' headers and record structs (BM25 chunks and postings, dense embeddings, an
// optional HNSW graph), and the checksum that guards them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "rag/bm25.h"
#include "rag/chunker.h"

namespace qforge::rag {

inline constexpr std::string_view kIndexFormatName = "qforge-bm25-index";
// 1: BM25 only. 2: adds the optional dense part (params.dense, files.embeddings, files.hnsw).
inline constexpr std::uint32_t kIndexFormatVersion = 2;
inline constexpr std::string_view kManifestFile = "manifest.json";
inline constexpr std::string_view kChunksMagic = "QFRAGCHK";      // 8 bytes
inline constexpr std::string_view kPostingsMagic = "QFRAGPST";    // 8 bytes
inline constexpr std::string_view kEmbeddingsMagic = "QFRAGEMB";  // 8 bytes

// How chunks were embedded for dense retrieval (absent: a BM25-only index).
struct DenseParams {
    std::string encoder;           // BERT-family model directory (absolute path)
    std::string tokenizer;         // its WordPiece tokenizer directory ("" = the encoder's)
    std::string pooling = "mean";  // mean | cls; vectors are always L2-normalised
    std::size_t max_length = 256;  // ids per chunk, [CLS]/[SEP] included (longer: truncated)
    std::string ann = "exact";     // exact | hnsw: whether an HNSW graph is stored
    std::size_t hnsw_m = 16;       // HNSW links per node (hnswlib M)
    std::size_t hnsw_ef_construction = 200;
};

// How an index was built; --add must use the same settings.
struct IndexParams {
    Bm25Params bm25;
    bool stop_words = true;
    ChunkOptions chunk;
    std::string tokenizer = "words";  // a tokenizer directory, or "words" (count_words)
    std::optional<DenseParams> dense;
};

struct IndexCounts {
    std::uint64_t documents = 0;
    std::uint64_t chunks = 0;
    std::uint64_t terms = 0;
    std::uint64_t postings = 0;
    std::uint64_t total_terms = 0;  // sum of every chunk's term count (for avgdl)
    std::uint64_t dim = 0;          // embedding size (0 without a dense part)
};

struct IndexFileInfo {
    std::string name;
    std::uint64_t bytes = 0;
    std::uint64_t checksum = 0;  // of the payload (the file after its header)
};

struct IndexManifest {
    std::uint64_t generation = 0;  // +1 on every write; names the binary files
    IndexParams params;
    IndexCounts counts;
    IndexFileInfo chunks_file;
    IndexFileInfo postings_file;
    std::optional<IndexFileInfo> embeddings_file;  // with params.dense
    std::optional<IndexFileInfo> hnsw_file;        // with params.dense->ann == "hnsw"
};

// manifest.json text, and its parser. The parser checks format and version first (another
// version is an error saying which one this build reads) and names `where` in every error.
std::string manifest_to_json(const IndexManifest& manifest);
IndexManifest manifest_from_json(std::string_view text, const std::string& where);

// Header at the start of both binary files (32 bytes, little-endian).
struct FileHeader {
    char magic[8];
    std::uint32_t version;
    std::uint32_t reserved;
    std::uint64_t payload_bytes;
    std::uint64_t checksum;  // FNV-1a 64 of the payload
};

static_assert(sizeof(FileHeader) == 32);

// Records in chunks-<gen>.bin. String fields are (offset, length) into the file's blob.
struct DocRecord {
    std::uint64_t id_off, source_off, title_off, content_hash;
    std::uint32_t id_len, source_len, title_len, reserved;
};

struct ChunkRecord {
    std::uint64_t text_off;     // into the blob
    std::uint64_t byte_offset;  // of the chunk in its document's text
    std::uint32_t text_len;
    std::uint32_t doc;        // index into the document table
    std::uint32_t num_terms;  // analysed length, BM25's |D|
    std::uint32_t reserved;
};

// Records in postings-<gen>.bin. Terms are sorted by their bytes; a term's postings are
// postings[first, first + df), sorted by chunk.
struct TermRecord {
    std::uint64_t term_off;
    std::uint64_t first;
    std::uint32_t term_len;
    std::uint32_t df;
};

struct Posting {
    std::uint32_t chunk;
    std::uint32_t tf;
};

static_assert(sizeof(DocRecord) == 48 && sizeof(ChunkRecord) == 32);
static_assert(sizeof(TermRecord) == 24 && sizeof(Posting) == 8);

std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t seed = 14695981039346656037ull);

// "chunks-000003.bin" / "postings-000003.bin".
std::string index_file_name(std::string_view stem, std::uint64_t generation);

}  // namespace qforge::rag
