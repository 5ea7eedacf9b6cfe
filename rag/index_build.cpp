// What is here: `qforge index` as a library call (see rag/index_build.h).
#include "rag/index_build.h"

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "rag/bm25_index.h"
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
    return {};
}

IndexBuildReport build_index(const IndexBuildOptions& options, const IndexProgress& progress) {
    IndexBuildReport report;
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<IndexBuilder> builder;
    if (options.add) {
        const Bm25Index old = Bm25Index::load(options.out);
        const std::string diff = index_params_difference(options.params, old.manifest().params);
        QF_CHECK(diff.empty(),
                 "{}: --add must use the index's own settings, but they differ ({}: given vs "
                 "index)",
                 (options.out / kManifestFile).string(), diff);
        builder = std::make_unique<IndexBuilder>(IndexBuilder::from_index(old));
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
            progress(i + 1, docs.size());
        }
    }
    report.chunk_seconds = seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    report.manifest = builder->write(options.out);
    report.write_seconds = seconds_since(t0);
    return report;
}

}  // namespace qforge::rag
