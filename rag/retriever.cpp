// What is here: Retriever (see rag/retriever.h).
#include "rag/retriever.h"

#include <algorithm>

#include "kernels/common.h"

namespace qforge::rag {

RetrieveMode parse_retrieve_mode(const std::string& text, const std::string& where) {
    if (text == "bm25") {
        return RetrieveMode::kBm25;
    }
    if (text == "dense") {
        return RetrieveMode::kDense;
    }
    QF_CHECK(text == "hybrid", "{}: mode must be bm25, dense or hybrid, got \"{}\"", where, text);
    return RetrieveMode::kHybrid;
}

FusionMethod parse_fusion(const std::string& text, const std::string& where) {
    if (text == "rrf") {
        return FusionMethod::kRrf;
    }
    QF_CHECK(text == "weighted", "{}: fusion must be rrf or weighted, got \"{}\"", where, text);
    return FusionMethod::kWeighted;
}

Retriever Retriever::open(const std::filesystem::path& dir, const std::string& encoder_dir) {
    Retriever r;
    r.dir_ = dir;
    r.bm25_ = Bm25Index::load(dir);
    if (r.bm25_.manifest().params.dense) {
        r.dense_ = DenseIndex::load(dir, r.bm25_.manifest());
    }
    r.encoder_dir_ = encoder_dir;
    return r;
}

const ChunkEmbedder& Retriever::embedder() const {
    QF_CHECK(dense_.has_value(),
             "{}: this index has no dense embeddings (built without --encoder); use --mode bm25 "
             "or rebuild it with `qforge index --encoder DIR`",
             (dir_ / kManifestFile).string());
    if (!embedder_) {
        DenseParams p = *bm25_.manifest().params.dense;
        if (!encoder_dir_.empty()) {
            p.encoder = encoder_dir_;
            p.tokenizer.clear();
        }
        embedder_ = std::make_unique<ChunkEmbedder>(ChunkEmbedder::load(p));
        QF_CHECK(embedder_->dim() == dense_->dim(),
                 "{}: the encoder gives {}-d vectors, the index holds {}-d ones (another encoder)",
                 p.encoder, embedder_->dim(), dense_->dim());
    }
    return *embedder_;
}

std::vector<float> Retriever::embed_query(const std::string& query) const {
    return embedder().embed_query(query);
}

std::vector<ScoredChunk> Retriever::search(const std::string& query,
                                           const RetrieveOptions& o) const {
    if (o.mode == RetrieveMode::kBm25) {
        return bm25_.search(query, o.k);
    }
    const std::vector<float> q = embed_query(query);
    if (o.mode == RetrieveMode::kDense) {
        return dense_->search(q, o.k, o.ann, o.ef);
    }
    const std::size_t n = std::max(o.k, o.candidates);
    const std::vector<std::vector<ScoredChunk>> lists = {bm25_.search(query, n),
                                                         dense_->search(q, n, o.ann, o.ef)};
    if (o.fusion == FusionMethod::kRrf) {
        return reciprocal_rank_fusion(lists, o.rrf_k, o.k);
    }
    QF_CHECK(o.bm25_weight >= 0 && o.bm25_weight <= 1,
             "retrieve: the BM25 weight must be in [0, 1], got {}", o.bm25_weight);
    return weighted_score_fusion(lists, {o.bm25_weight, 1.0 - o.bm25_weight}, o.k);
}

}  // namespace qforge::rag
