// What is here: loading the dense part of an index and searching it (see rag/dense_index.h).
#include "rag/dense_index.h"

#include <algorithm>
#include <cstring>

#include "kernels/common.h"
#include "rag/index_file.h"

namespace qforge::rag {

AnnMode parse_ann_mode(const std::string& text, const std::string& where) {
    if (text == "auto") {
        return AnnMode::kAuto;
    }
    if (text == "exact") {
        return AnnMode::kExact;
    }
    QF_CHECK(text == "hnsw", "{}: ann must be auto, exact or hnsw, got \"{}\"", where, text);
    return AnnMode::kHnsw;
}

std::string embeddings_payload(std::span<const float> data, std::size_t dim) {
    QF_CHECK(dim > 0 && data.size() % dim == 0, "embeddings: {} floats are not rows of {}",
             data.size(), dim);
    const std::uint64_t counts[2] = {data.size() / dim, dim};
    std::string payload(sizeof(counts) + data.size_bytes(), '\0');
    std::memcpy(payload.data(), counts, sizeof(counts));
    std::memcpy(payload.data() + sizeof(counts), data.data(), data.size_bytes());
    return payload;
}

DenseIndex DenseIndex::load(const std::filesystem::path& dir, const IndexManifest& m) {
    QF_CHECK(m.params.dense && m.embeddings_file,
             "{}: the index has no dense embeddings; rebuild it with `qforge index --encoder DIR`",
             (dir / kManifestFile).string());
    DenseIndex d;
    d.dir_ = dir;
    d.embeddings_map_ = MappedFile(dir / m.embeddings_file->name);
    const std::string name = d.embeddings_map_.path().string();
    const std::string_view payload =
        check_index_file(d.embeddings_map_, *m.embeddings_file, kEmbeddingsMagic);
    QF_CHECK(payload.size() >= 16, "{}: payload too short for its counts", name);
    std::uint64_t counts[2];
    std::memcpy(counts, payload.data(), sizeof(counts));
    QF_CHECK(counts[0] == m.counts.chunks && counts[1] == m.counts.dim,
             "{}: {} vectors of {} floats, manifest.json says {} chunks of dim {}", name, counts[0],
             counts[1], m.counts.chunks, m.counts.dim);
    QF_CHECK(payload.size() == 16 + counts[0] * counts[1] * sizeof(float),
             "{}: {} payload bytes, expected {} for {} x {} floats", name, payload.size(),
             16 + counts[0] * counts[1] * sizeof(float), counts[0], counts[1]);
    // The payload starts 48 bytes into a page-aligned mapping: 4-byte aligned for f32.
    d.matrix_ = {reinterpret_cast<const float*>(payload.data() + 16),
                 static_cast<std::size_t>(counts[0]), static_cast<std::size_t>(counts[1])};
    if (m.hnsw_file) {
        const auto file = dir / m.hnsw_file->name;
        const MappedFile bytes(file);
        QF_CHECK(bytes.bytes().size() == m.hnsw_file->bytes,
                 "{}: {} bytes, but manifest.json says {} (truncated or altered file)",
                 file.string(), bytes.bytes().size(), m.hnsw_file->bytes);
        QF_CHECK(fnv1a64(bytes.bytes()) == m.hnsw_file->checksum,
                 "{}: checksum mismatch, the file is corrupt; rebuild the index", file.string());
        d.hnsw_ = HnswGraph::load(file, d.matrix_.dim);
        QF_CHECK(d.hnsw_->size() == d.matrix_.rows,
                 "{}: the HNSW graph holds {} vectors, the index {} chunks", file.string(),
                 d.hnsw_->size(), d.matrix_.rows);
    }
    return d;
}

std::vector<ScoredChunk> DenseIndex::search(std::span<const float> query, std::size_t k,
                                            AnnMode mode, std::size_t ef) const {
    QF_CHECK(mode != AnnMode::kHnsw || hnsw_,
             "{}: --ann hnsw, but this index has no HNSW graph (build it with `qforge index "
             "--ann hnsw`) ",
             dir_.string());
    if (mode == AnnMode::kExact || !hnsw_) {
        return exact_search(matrix_, query, k);
    }
    std::vector<ScoredChunk> hits = hnsw_->search(query, k, ef);
    for (ScoredChunk& h : hits) {
        h.score = dot(matrix_.row(h.chunk), query);
    }
    std::sort(hits.begin(), hits.end(), [](const ScoredChunk& a, const ScoredChunk& b) {
        return a.score != b.score ? a.score > b.score : a.chunk < b.chunk;
    });
    return hits;
}

}  // namespace qforge::rag
