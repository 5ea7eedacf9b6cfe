// What is here: `qforge index` as a library call (see rag/index_build.h).
#include "rag/index_build.h"

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "kernels/common.h"
#include "rag/bm25_index.h"
#include "rag/chunk_embedder.h"
#include "rag/dense_index.h"
#include "rag/document.h"
#include "rag/index_builder.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/wordpiece.h"

namespace qforge::rag {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Whether the tokenizer at `path` (a directory or a tokenizer.json) is BERT-style WordPiece,
// which qforge::WordPieceTokenizer reads (qforge::Tokenizer reads the BPE ones).
bool is_wordpiece(const std::filesystem::path& path) {
    const auto json_file = std::filesystem::is_directory(path) ? path / "tokenizer.json" : path;
    if (!std::filesystem::exists(json_file)) {
        return std::filesystem::exists(path / "vocab.txt");
    }
    std::ifstream in(json_file, std::ios::binary);
    const auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return false;  // Tokenizer::load reports the malformed file
    }
    const auto model = j.find("model");
    return model != j.end() && model->is_object() && model->value("type", "") == "WordPiece";
}

}  // namespace

TokenCounter make_token_counter(const std::string& tokenizer) {
    if (tokenizer == "words") {
        return count_words;
    }
    if (is_wordpiece(tokenizer)) {
        const std::filesystem::path path(tokenizer);
        auto wp = std::make_shared<const WordPieceTokenizer>(
            std::filesystem::is_directory(path) ? WordPieceTokenizer::load(path)
                                                : WordPieceTokenizer::from_tokenizer_json(path));
        return [wp](std::string_view text) {
            return wp->encode_plain(text).size();
        };
    }
    auto tok = std::make_shared<const Tokenizer>(Tokenizer::load(tokenizer));
    return [tok](std::string_view text) {
        return tok->encode(text, false).size();
    };
}

std::string index_params_difference(const IndexParams& a, const IndexParams& b) {
    if (a.chunk.max_tokens != b.chunk.max_tokens) {
        return fmt::format("chunk_tokens {} vs {}", a.chunk.max_tokens, b.chunk.max_tokens);
    }
    if (a.chunk.overlap != b.chunk.overlap) {
        return fmt::format("overlap {} vs {}", a.chunk.overlap, b.chunk.overlap);
    }
    if (a.tokenizer != b.tokenizer) {
        return fmt::format("tokenizer \"{}\" vs \"{}\"", a.tokenizer, b.tokenizer);
    }
    if (a.stop_words != b.stop_words) {
        return fmt::format("stop_words {} vs {}", a.stop_words ? "english" : "none",
                           b.stop_words ? "english" : "none");
    }
    if (a.bm25.k1 != b.bm25.k1 || a.bm25.b != b.bm25.b) {
        return fmt::format("k1/b {}/{} vs {}/{}", a.bm25.k1, a.bm25.b, b.bm25.k1, b.bm25.b);
    }
    if (a.dense.has_value() != b.dense.has_value()) {
        return fmt::format("dense embeddings {} vs {}", a.dense ? "yes" : "no",
                           b.dense ? "yes" : "no");
    }
    if (a.dense) {
        const DenseParams &x = *a.dense, &y = *b.dense;
        if (x.encoder != y.encoder) {
            return fmt::format("encoder \"{}\" vs \"{}\"", x.encoder, y.encoder);
        }
        if (x.tokenizer != y.tokenizer) {
            return fmt::format("encoder tokenizer \"{}\" vs \"{}\"", x.tokenizer, y.tokenizer);
        }
        if (x.pooling != y.pooling) {
            return fmt::format("pooling {} vs {}", x.pooling, y.pooling);
        }
        if (x.max_length != y.max_length) {
            return fmt::format("max_length {} vs {}", x.max_length, y.max_length);
        }
    }
    return {};
}

IndexBuildReport build_index(const IndexBuildOptions& options, const IndexProgress& progress) {
    IndexBuildReport report;
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<IndexBuilder> builder;
    QF_CHECK(options.ann == "auto" || options.ann == "exact" || options.ann == "hnsw",
             "index: --ann must be auto, exact or hnsw, got \"{}\"", options.ann);
    QF_CHECK(options.params.dense || options.ann == "auto",
             "index: --ann {} needs dense embeddings (--encoder DIR)", options.ann);
    bool had_hnsw = false;
    if (options.add) {
        const Bm25Index old = Bm25Index::load(options.out);
        const std::string diff = index_params_difference(options.params, old.manifest().params);
        QF_CHECK(diff.empty(),
                 "{}: --add must use the index's own settings, but they differ ({}: given vs "
                 "index)",
                 (options.out / kManifestFile).string(), diff);
        std::optional<DenseIndex> dense;
        if (old.manifest().params.dense) {
            dense = DenseIndex::load(options.out, old.manifest());
            had_hnsw = dense->has_hnsw();
        }
        builder = std::make_unique<IndexBuilder>(
            IndexBuilder::from_index(old, dense ? &*dense : nullptr));
    } else {
        builder = std::make_unique<IndexBuilder>(options.params);
    }
    const std::vector<Document> docs = load_documents(options.docs);
    report.documents_loaded = docs.size();
    QF_CHECK(!docs.empty(), "{}: no documents (every JSONL line is blank)", options.docs.string());
    report.load_seconds = seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    const TokenCounter count = make_token_counter(options.params.tokenizer);
    for (std::size_t i = 0; i < docs.size(); ++i) {
        const Document& doc = docs[i];
        std::uint64_t hash = 0;
        if (builder->has_document(doc.id, &hash)) {
            QF_CHECK(options.add, "{}: duplicate document id \"{}\"", doc.source, doc.id);
            QF_CHECK(hash == document_hash(doc),
                     "{}: document \"{}\" is already in the index with other content; --add only "
                     "appends new documents (rebuild the index to change one)",
                     doc.source, doc.id);
            ++report.documents_skipped;
        } else {
            const std::vector<TextSpan> spans = chunk_text(doc.text, options.params.chunk, count);
            builder->add_document(doc, spans);
            ++report.documents_added;
            report.chunks_added += spans.size();
        }
        if (progress) {
            progress("chunking documents", i + 1, docs.size());
        }
    }
    report.chunk_seconds = seconds_since(t0);

    if (options.params.dense) {
        t0 = std::chrono::steady_clock::now();
        const ChunkEmbedder embedder = ChunkEmbedder::load(*options.params.dense);
        std::vector<std::string> texts;
        for (std::size_t c = builder->num_embedded(); c < builder->num_chunks(); ++c) {
            texts.push_back(builder->chunk_text(c));
        }
        report.chunks_embedded = texts.size();
        if (!texts.empty()) {
            builder->add_embeddings(embedder.embed(texts, options.collective,
                                                   [&](std::size_t done, std::size_t total) {
                                                       if (progress) {
                                                           progress("embedding chunks", done,
                                                                    total);
                                                       }
                                                   }),
                                    embedder.dim());
        }
        const bool hnsw =
            options.ann == "hnsw" ||
            (options.ann == "auto" && (had_hnsw || builder->num_chunks() >= kHnswAutoMinChunks));
        builder->set_ann(hnsw ? "hnsw" : "exact");
        report.embed_seconds = seconds_since(t0);
    }

    const bool lead = options.collective == nullptr || options.collective->rank() == 0;
    t0 = std::chrono::steady_clock::now();
    if (lead) {
        report.manifest = builder->write(options.out);
    } else {
        report.manifest.params = builder->params();
        report.manifest.counts.documents = builder->num_documents();
        report.manifest.counts.chunks = builder->num_chunks();
    }
    if (options.collective != nullptr && options.collective->world() > 1) {
        options.collective->barrier();  // the index is on disk when any rank returns
    }
    report.write_seconds = seconds_since(t0);
    return report;
}

}  // namespace qforge::rag
