// What is here: loading and validating the memory-mapped on-disk index, and BM25 search
// (see rag/bm25_index.h and docs/index-format.md).
#include "rag/bm25_index.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kernels/common.h"
#include "rag/bm25.h"
#include "rag/index_file.h"
#include "rag/text_analyzer.h"

namespace qforge::rag {

namespace fs = std::filesystem;

namespace {

template <typename T>
T read_at(const char* base, std::size_t index) {
    T value;
    std::memcpy(&value, base + index * sizeof(T), sizeof(T));
    return value;
}

// The three u64 counts at the start of a payload, and a size check of the tables after them.
struct Counts3 {
    std::uint64_t a, b, blob;
};

Counts3 read_counts(std::string_view payload, std::uint64_t a_size, std::uint64_t b_size,
                    const std::string& name) {
    QF_CHECK(payload.size() >= 24, "{}: payload too short for its counts", name);
    Counts3 c{read_at<std::uint64_t>(payload.data(), 0), read_at<std::uint64_t>(payload.data(), 1),
              read_at<std::uint64_t>(payload.data(), 2)};
    const std::uint64_t limit = payload.size();
    QF_CHECK(c.a <= limit / a_size && c.b <= limit / b_size && c.blob <= limit &&
                 24 + c.a * a_size + c.b * b_size + c.blob == limit,
             "{}: table sizes ({} x {} + {} x {} + {} blob bytes) do not add up to the payload "
             "({} bytes)",
             name, c.a, a_size, c.b, b_size, c.blob, limit);
    return c;
}

void check_ref(std::uint64_t off, std::uint32_t len, std::size_t blob, const std::string& name,
               const char* what, std::size_t index) {
    QF_CHECK(off <= blob && len <= blob - off, "{}: {} {} points outside the string blob", name,
             what, index);
}

}  // namespace

Bm25Index Bm25Index::load(const fs::path& dir) {
    Bm25Index index;
    index.dir_ = dir;
    const fs::path manifest_path = dir / kManifestFile;
    std::ifstream in(manifest_path, std::ios::binary);
    QF_CHECK(in.good(), "{}: cannot open; is {} an index built by `qforge index`?",
             manifest_path.string(), dir.string());
    std::ostringstream text;
    text << in.rdbuf();
    index.manifest_ = manifest_from_json(text.str(), manifest_path.string());
    const IndexManifest& m = index.manifest_;

    // chunks-<gen>.bin
    index.chunks_map_ = MappedFile(dir / m.chunks_file.name);
    {
        const std::string name = index.chunks_map_.path().string();
        const std::string_view payload =
            check_index_file(index.chunks_map_, m.chunks_file, kChunksMagic);
        const Counts3 c = read_counts(payload, sizeof(DocRecord), sizeof(ChunkRecord), name);
        QF_CHECK(c.a == m.counts.documents && c.b == m.counts.chunks,
                 "{}: {} documents and {} chunks, manifest.json says {} and {}", name, c.a, c.b,
                 m.counts.documents, m.counts.chunks);
        index.doc_table_ = payload.data() + 24;
        index.chunk_table_ = index.doc_table_ + c.a * sizeof(DocRecord);
        index.chunks_blob_ = payload.substr(payload.size() - c.blob);
        const std::size_t blob = index.chunks_blob_.size();
        for (std::size_t d = 0; d < c.a; ++d) {
            const auto r = read_at<DocRecord>(index.doc_table_, d);
            check_ref(r.id_off, r.id_len, blob, name, "document", d);
            check_ref(r.source_off, r.source_len, blob, name, "document", d);
            check_ref(r.title_off, r.title_len, blob, name, "document", d);
        }
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < c.b; ++i) {
            const auto r = read_at<ChunkRecord>(index.chunk_table_, i);
            check_ref(r.text_off, r.text_len, blob, name, "chunk", i);
            QF_CHECK(r.doc < c.a, "{}: chunk {} names document {} of {}", name, i, r.doc, c.a);
            total += r.num_terms;
        }
        QF_CHECK(total == m.counts.total_terms,
                 "{}: chunks hold {} terms in all, manifest.json says {}", name, total,
                 m.counts.total_terms);
    }
    // postings-<gen>.bin
    index.postings_map_ = MappedFile(dir / m.postings_file.name);
    {
        const std::string name = index.postings_map_.path().string();
        const std::string_view payload =
            check_index_file(index.postings_map_, m.postings_file, kPostingsMagic);
        const Counts3 c = read_counts(payload, sizeof(TermRecord), sizeof(Posting), name);
        QF_CHECK(c.a == m.counts.terms && c.b == m.counts.postings,
                 "{}: {} terms and {} postings, manifest.json says {} and {}", name, c.a, c.b,
                 m.counts.terms, m.counts.postings);
        index.term_table_ = payload.data() + 24;
        index.posting_table_ = index.term_table_ + c.a * sizeof(TermRecord);
        index.postings_blob_ = payload.substr(payload.size() - c.blob);
        std::uint64_t next = 0;
        std::string_view previous;
        for (std::size_t t = 0; t < c.a; ++t) {
            const auto r = read_at<TermRecord>(index.term_table_, t);
            check_ref(r.term_off, r.term_len, index.postings_blob_.size(), name, "term", t);
            QF_CHECK(r.first == next && r.df > 0 && r.df <= c.b - next,
                     "{}: term {} has postings [{}, +{}), expected to start at {}", name, t,
                     r.first, r.df, next);
            const std::string_view term = index.postings_blob_.substr(r.term_off, r.term_len);
            QF_CHECK(t == 0 || previous < term, "{}: terms {} and {} are not in sorted order", name,
                     t - 1, t);
            previous = term;
            std::uint32_t last_chunk = 0;
            for (std::uint64_t p = r.first; p < r.first + r.df; ++p) {
                const auto post = read_at<Posting>(index.posting_table_, p);
                QF_CHECK(post.chunk < m.counts.chunks && post.tf > 0 &&
                             (p == r.first || post.chunk > last_chunk),
                         "{}: posting {} (chunk {}, tf {}) is out of range or out of order", name,
                         p, post.chunk, post.tf);
                last_chunk = post.chunk;
            }
            next += r.df;
        }
        QF_CHECK(next == c.b, "{}: terms cover {} postings of {}", name, next, c.b);
    }
    return index;
}

double Bm25Index::avg_chunk_terms() const {
    return manifest_.counts.chunks == 0 ? 0.0
                                        : static_cast<double>(manifest_.counts.total_terms) /
                                              static_cast<double>(manifest_.counts.chunks);
}

std::string_view Bm25Index::chunks_string(std::uint64_t off, std::uint32_t len) const {
    return chunks_blob_.substr(off, len);
}

std::string_view Bm25Index::postings_string(std::uint64_t off, std::uint32_t len) const {
    return postings_blob_.substr(off, len);
}

DocumentView Bm25Index::document(std::size_t i) const {
    QF_CHECK(i < num_documents(), "index: document {} of {}", i, num_documents());
    const auto r = read_at<DocRecord>(doc_table_, i);
    return {chunks_string(r.id_off, r.id_len), chunks_string(r.title_off, r.title_len),
            chunks_string(r.source_off, r.source_len), r.content_hash};
}

ChunkView Bm25Index::chunk(std::size_t i) const {
    QF_CHECK(i < num_chunks(), "index: chunk {} of {}", i, num_chunks());
    const auto r = read_at<ChunkRecord>(chunk_table_, i);
    const DocumentView doc = document(r.doc);
    return {chunks_string(r.text_off, r.text_len),
            doc.id,
            doc.title,
            doc.source,
            r.byte_offset,
            r.doc,
            r.num_terms};
}

TermRecord Bm25Index::term_record(std::size_t i) const {
    return read_at<TermRecord>(term_table_, i);
}

std::string_view Bm25Index::term(std::size_t i) const {
    QF_CHECK(i < num_terms(), "index: term {} of {}", i, num_terms());
    const TermRecord r = term_record(i);
    return postings_string(r.term_off, r.term_len);
}

std::vector<Posting> Bm25Index::postings_at(std::size_t i) const {
    QF_CHECK(i < num_terms(), "index: term {} of {}", i, num_terms());
    const TermRecord r = term_record(i);
    std::vector<Posting> out(r.df);
    std::memcpy(out.data(), posting_table_ + r.first * sizeof(Posting), r.df * sizeof(Posting));
    return out;
}

std::optional<std::size_t> Bm25Index::find_term(std::string_view t) const {
    std::size_t lo = 0;
    std::size_t hi = num_terms();
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        const TermRecord r = term_record(mid);
        const std::string_view s = postings_string(r.term_off, r.term_len);
        if (s < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < num_terms() && term(lo) == t) {
        return lo;
    }
    return std::nullopt;
}

std::uint32_t Bm25Index::document_frequency(std::string_view t) const {
    const auto i = find_term(t);
    return i ? term_record(*i).df : 0;
}

std::vector<Posting> Bm25Index::postings(std::string_view t) const {
    const auto i = find_term(t);
    return i ? postings_at(*i) : std::vector<Posting>{};
}

std::vector<ScoredChunk> Bm25Index::search(std::string_view query, std::size_t k) const {
    return search(query, k, manifest_.params.bm25);
}

std::vector<ScoredChunk> Bm25Index::search(std::string_view query, std::size_t k,
                                           const Bm25Params& params) const {
    const std::vector<std::string> terms =
        analyze_terms(query, AnalyzerOptions{manifest_.params.stop_words});
    const double avg = avg_chunk_terms();
    std::vector<double> scores(num_chunks(), 0.0);
    std::vector<std::uint32_t> touched;
    for (const std::string& t : terms) {
        const auto i = find_term(t);
        if (!i) {
            continue;
        }
        const TermRecord r = term_record(*i);
        const double idf = bm25_idf(manifest_.counts.chunks, r.df);
        for (std::uint64_t p = r.first; p < r.first + r.df; ++p) {
            const auto post = read_at<Posting>(posting_table_, p);
            const auto len = read_at<ChunkRecord>(chunk_table_, post.chunk).num_terms;
            if (scores[post.chunk] == 0.0) {
                touched.push_back(post.chunk);
            }
            scores[post.chunk] += bm25_term_score(idf, post.tf, len, avg, params);
        }
    }
    std::vector<ScoredChunk> hits;
    hits.reserve(touched.size());
    for (std::uint32_t c : touched) {
        hits.push_back({c, scores[c]});
    }
    auto better = [](const ScoredChunk& a, const ScoredChunk& b) {
        return a.score != b.score ? a.score > b.score : a.chunk < b.chunk;
    };
    const std::size_t n = std::min(k, hits.size());
    std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(n), hits.end(),
                      better);
    hits.resize(n);
    return hits;
}

}  // namespace qforge::rag
