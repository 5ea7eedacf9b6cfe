// What is here: IndexBuilder: analysing chunks into postings and writing the on-disk index
// (see rag/index_builder.h and docs/index-format.md).
#include "rag/index_builder.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kernels/common.h"
#include "rag/bm25_index.h"
#include "rag/dense_index.h"
#include "rag/hnsw_graph.h"
#include "rag/index_file.h"
#include "rag/text_analyzer.h"
#include "runtime/io/atomic_file.h"

namespace qforge::rag {

namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little,
              "the index format is little-endian and written by memcpy");

namespace {

template <typename T>
void put(std::string& out, const T& value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// A string blob with (offset, length) references.
struct Blob {
    std::string bytes;

    std::pair<std::uint64_t, std::uint32_t> add(std::string_view s) {
        QF_CHECK(s.size() <= UINT32_MAX, "index: a string of {} bytes is too long", s.size());
        const std::uint64_t off = bytes.size();
        bytes.append(s);
        return {off, static_cast<std::uint32_t>(s.size())};
    }
};

// The generation of an index already in `dir`, or 0 (none, or unreadable: it is replaced).
std::uint64_t existing_generation(const fs::path& dir) {
    std::ifstream in(dir / kManifestFile, std::ios::binary);
    if (!in) {
        return 0;
    }
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return manifest_from_json(text.str(), (dir / kManifestFile).string()).generation;
    } catch (const Error&) {
        return 0;
    }
}

}  // namespace

IndexBuilder::IndexBuilder(IndexParams params) : params_(std::move(params)) {}

IndexBuilder IndexBuilder::from_index(const Bm25Index& index, const DenseIndex* dense) {
    IndexBuilder b(index.manifest().params);
    b.generation_ = index.manifest().generation;
    if (b.params_.dense) {
        QF_CHECK(dense != nullptr, "index: --add to a dense index needs its embeddings loaded");
        const EmbeddingMatrix& m = dense->matrix();
        b.dim_ = m.dim;
        b.embeddings_.assign(m.data, m.data + m.rows * m.dim);
        if (index.manifest().hnsw_file) {
            b.old_hnsw_ = index.dir() / index.manifest().hnsw_file->name;
        }
    }
    for (std::size_t d = 0; d < index.num_documents(); ++d) {
        const DocumentView doc = index.document(d);
        b.doc_by_id_.emplace(std::string(doc.id), static_cast<std::uint32_t>(d));
        b.docs_.push_back({std::string(doc.id), std::string(doc.title), std::string(doc.source),
                           doc.content_hash});
    }
    for (std::size_t c = 0; c < index.num_chunks(); ++c) {
        const ChunkView chunk = index.chunk(c);
        b.chunks_.push_back(
            {chunk.doc, chunk.byte_offset, chunk.num_terms, std::string(chunk.text)});
        b.total_terms_ += chunk.num_terms;
    }
    for (std::size_t t = 0; t < index.num_terms(); ++t) {
        b.postings_.emplace(std::string(index.term(t)), index.postings_at(t));
    }
    return b;
}

bool IndexBuilder::has_document(const std::string& id, std::uint64_t* content_hash) const {
    const auto it = doc_by_id_.find(id);
    if (it == doc_by_id_.end()) {
        return false;
    }
    if (content_hash != nullptr) {
        *content_hash = docs_[it->second].content_hash;
    }
    return true;
}

void IndexBuilder::add_document(const Document& doc, const std::vector<TextSpan>& spans) {
    const auto [it, inserted] =
        doc_by_id_.emplace(doc.id, static_cast<std::uint32_t>(docs_.size()));
    QF_CHECK(inserted, "{}: document id \"{}\" is already in the index (from {})", doc.source,
             doc.id, docs_[it->second].source);
    QF_CHECK(docs_.size() < UINT32_MAX, "index: too many documents");
    const auto doc_index = static_cast<std::uint32_t>(docs_.size());
    docs_.push_back({doc.id, doc.title, doc.source, document_hash(doc)});

    const AnalyzerOptions analyzer{params_.stop_words};
    for (const TextSpan& span : spans) {
        QF_CHECK(span.offset + span.length <= doc.text.size(),
                 "index: chunk [{}, +{}) outside document \"{}\" ({} bytes)", span.offset,
                 span.length, doc.id, doc.text.size());
        QF_CHECK(chunks_.size() < UINT32_MAX, "index: too many chunks");
        const auto chunk_id = static_cast<std::uint32_t>(chunks_.size());
        std::string text = doc.text.substr(span.offset, span.length);
        std::vector<std::string> terms = analyze_terms(text, analyzer);
        std::sort(terms.begin(), terms.end());
        for (std::size_t i = 0; i < terms.size();) {
            std::size_t j = i;
            while (j < terms.size() && terms[j] == terms[i]) {
                ++j;
            }
            postings_[terms[i]].push_back({chunk_id, static_cast<std::uint32_t>(j - i)});
            i = j;
        }
        chunks_.push_back(
            {doc_index, span.offset, static_cast<std::uint32_t>(terms.size()), std::move(text)});
        total_terms_ += terms.size();
    }
}

void IndexBuilder::add_embeddings(const std::vector<float>& rows, std::size_t dim) {
    QF_CHECK(params_.dense.has_value(), "index: embeddings given for an index without --encoder");
    QF_CHECK(dim > 0 && rows.size() % dim == 0, "index: {} floats are not rows of {}", rows.size(),
             dim);
    QF_CHECK(dim_ == 0 || dim == dim_,
             "index: {}-d embeddings, but the index holds {}-d ones (another encoder?)", dim, dim_);
    QF_CHECK(num_embedded() + rows.size() / dim <= chunks_.size(),
             "index: {} embeddings for {} chunks", num_embedded() + rows.size() / dim,
             chunks_.size());
    dim_ = dim;
    embeddings_.insert(embeddings_.end(), rows.begin(), rows.end());
}

void IndexBuilder::set_ann(const std::string& ann) {
    QF_CHECK(params_.dense.has_value(), "index: --ann needs a dense index (--encoder)");
    QF_CHECK(ann == "exact" || ann == "hnsw", "index: ann must be exact or hnsw, got \"{}\"", ann);
    params_.dense->ann = ann;
}

IndexManifest IndexBuilder::write(const fs::path& dir) const {
    std::error_code ec;
    fs::create_directories(dir, ec);
    QF_CHECK(!ec, "{}: cannot create the index directory: {}", dir.string(), ec.message());
    const std::uint64_t old_generation = existing_generation(dir);

    IndexManifest m;
    m.generation = std::max(generation_, old_generation) + 1;
    m.params = params_;

    // chunks-<gen>.bin: counts, document table, chunk table, blob.
    {
        Blob blob;
        std::string tables;
        for (const DocEntry& d : docs_) {
            DocRecord r{};
            std::tie(r.id_off, r.id_len) = blob.add(d.id);
            std::tie(r.source_off, r.source_len) = blob.add(d.source);
            std::tie(r.title_off, r.title_len) = blob.add(d.title);
            r.content_hash = d.content_hash;
            put(tables, r);
        }
        for (const ChunkEntry& c : chunks_) {
            ChunkRecord r{};
            std::tie(r.text_off, r.text_len) = blob.add(c.text);
            r.byte_offset = c.byte_offset;
            r.doc = c.doc;
            r.num_terms = c.num_terms;
            put(tables, r);
        }
        std::string payload;
        put(payload, std::uint64_t{docs_.size()});
        put(payload, std::uint64_t{chunks_.size()});
        put(payload, std::uint64_t{blob.bytes.size()});
        payload += tables;
        payload += blob.bytes;
        write_index_file(dir / index_file_name("chunks", m.generation), kChunksMagic, payload,
                         m.chunks_file);
    }
    // postings-<gen>.bin: counts, term table, postings, blob.
    std::uint64_t num_postings = 0;
    {
        Blob blob;
        std::string terms;
        std::string postings;
        for (const auto& [term, list] : postings_) {
            TermRecord r{};
            std::tie(r.term_off, r.term_len) = blob.add(term);
            r.first = num_postings;
            r.df = static_cast<std::uint32_t>(list.size());
            put(terms, r);
            for (const Posting& p : list) {
                put(postings, p);
            }
            num_postings += list.size();
        }
        std::string payload;
        put(payload, std::uint64_t{postings_.size()});
        put(payload, num_postings);
        put(payload, std::uint64_t{blob.bytes.size()});
        payload += terms;
        payload += postings;
        payload += blob.bytes;
        write_index_file(dir / index_file_name("postings", m.generation), kPostingsMagic, payload,
                         m.postings_file);
    }
    m.counts = {docs_.size(), chunks_.size(), postings_.size(), num_postings, total_terms_, 0};
    if (params_.dense) {
        QF_CHECK(dim_ > 0 && num_embedded() == chunks_.size(),
                 "index: {} of {} chunks have an embedding", num_embedded(), chunks_.size());
        m.counts.dim = dim_;
        IndexFileInfo info;
        write_index_file(dir / index_file_name("embeddings", m.generation), kEmbeddingsMagic,
                         embeddings_payload(embeddings_, dim_), info);
        m.embeddings_file = info;
        if (params_.dense->ann == "hnsw") {
            const EmbeddingMatrix matrix{embeddings_.data(), chunks_.size(), dim_};
            HnswGraph graph;
            if (!old_hnsw_.empty() && fs::exists(old_hnsw_)) {
                graph = HnswGraph::load(old_hnsw_, dim_, chunks_.size());
                graph.extend(matrix);
            } else {
                graph = HnswGraph::build(
                    matrix, {params_.dense->hnsw_m, params_.dense->hnsw_ef_construction});
            }
            m.hnsw_file = graph.save(dir / index_file_name("hnsw", m.generation));
        }
    }
    io::write_file_atomic(dir / kManifestFile, manifest_to_json(m));

    // The new manifest is on disk; files of older generations are garbage now.
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        const bool ours = (name.starts_with("chunks-") || name.starts_with("postings-") ||
                           name.starts_with("embeddings-") || name.starts_with("hnsw-")) &&
                          name.ends_with(".bin");
        const bool current = name == m.chunks_file.name || name == m.postings_file.name ||
                             (m.embeddings_file && name == m.embeddings_file->name) ||
                             (m.hnsw_file && name == m.hnsw_file->name);
        if (ours && !current) {
            fs::remove(entry.path(), ec);
        }
    }
    return m;
}

}  // namespace qforge::rag
