// What is here: ChunkEmbedder (see rag/chunk_embedder.h).
#include "rag/chunk_embedder.h"

#include <algorithm>
#include <cstring>

#include "kernels/common.h"

namespace qforge::rag {

Pooling parse_pooling(const std::string& text, const std::string& where) {
    if (text == "mean") {
        return Pooling::kMean;
    }
    QF_CHECK(text == "cls", "{}: pooling must be mean or cls, got \"{}\"", where, text);
    return Pooling::kCls;
}

ChunkEmbedder::ChunkEmbedder(DenseParams params, BertEncoder encoder)
    : params_(std::move(params)), encoder_(std::move(encoder)) {}

ChunkEmbedder ChunkEmbedder::load(const DenseParams& params) {
    (void)parse_pooling(params.pooling, "dense index");
    QF_CHECK(!params.encoder.empty(), "dense index: no encoder directory given");
    BertEncoder enc = BertEncoder::load(params.encoder, params.tokenizer);
    QF_CHECK(enc.has_tokenizer(),
             "{}: no WordPiece tokenizer (tokenizer.json or vocab.txt) next to the encoder; give "
             "one with --encoder-tokenizer",
             params.tokenizer.empty() ? params.encoder : params.tokenizer);
    return ChunkEmbedder(params, std::move(enc));
}

std::vector<float> ChunkEmbedder::embed(const std::vector<std::string>& texts,
                                        train::Collective* collective,
                                        const EmbedProgress& progress) const {
    const std::size_t n = texts.size(), D = dim();
    const auto world = static_cast<std::size_t>(collective ? collective->world() : 1);
    const auto rank = static_cast<std::size_t>(collective ? collective->rank() : 0);
    const std::size_t begin = n * rank / world, end = n * (rank + 1) / world;
    const Pooling pooling = parse_pooling(params_.pooling, "dense index");
    std::vector<float> out(n * D, 0.0f);
    for (std::size_t s = begin; s < end; s += kSliceTexts) {
        const std::size_t e = std::min(end, s + kSliceTexts);
        const std::vector<std::string> slice(texts.begin() + static_cast<std::ptrdiff_t>(s),
                                             texts.begin() + static_cast<std::ptrdiff_t>(e));
        const auto vecs = encoder_.embed(slice, pooling, true, kBatchSize,
                                         static_cast<std::int64_t>(params_.max_length));
        for (std::size_t i = 0; i < vecs.size(); ++i) {
            QF_CHECK(vecs[i].size() == D, "dense index: the encoder returned {} floats, not {}",
                     vecs[i].size(), D);
            std::memcpy(out.data() + (s + i) * D, vecs[i].data(), D * sizeof(float));
        }
        if (progress) {
            progress(e - begin, end - begin);
        }
    }
    if (world > 1) {
        collective->allreduce_sum(out.data(), static_cast<std::int64_t>(out.size()));
    }
    return out;
}

std::vector<float> ChunkEmbedder::embed_query(const std::string& text) const {
    return embed({text});
}

}  // namespace qforge::rag
