// What is here: ChunkEmbedder, the BERT-family sentence encoder as the dense index uses it:
// chunk texts and queries -> L2-normalised vectors (mean or CLS pooling), batched, and
// spread over the ranks of a job when given a Collective.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "rag/index_format.h"
#include "runtime/encoder/bert_encoder.h"
#include "runtime/train/collective.h"

namespace qforge::rag {

// (texts done, texts total) on this rank.
using EmbedProgress = std::function<void(std::size_t, std::size_t)>;

class ChunkEmbedder {
public:
    // The encoder in params.encoder (config.json + safetensors) with the WordPiece tokenizer
    // of params.tokenizer (or of the encoder directory). Errors name the directory.
    static ChunkEmbedder load(const DenseParams& params);

    std::size_t dim() const { return static_cast<std::size_t>(encoder_.config().hidden_size); }

    const DenseParams& params() const { return params_; }

    // Row-major (texts.size(), dim()) embeddings, in the order of `texts`. With a collective
    // of several ranks, rank r embeds the r-th contiguous slice and an all-reduce of the
    // zero-padded matrix gives every rank the whole result (adding zeros is exact).
    std::vector<float> embed(const std::vector<std::string>& texts,
                             train::Collective* collective = nullptr,
                             const EmbedProgress& progress = {}) const;

    // One query, as the chunks were embedded.
    std::vector<float> embed_query(const std::string& text) const;

    // Texts per progress report (and per embed() call on the encoder).
    static constexpr std::size_t kSliceTexts = 128;
    static constexpr std::int64_t kBatchSize = 32;

private:
    ChunkEmbedder(DenseParams params, BertEncoder encoder);

    DenseParams params_;
    BertEncoder encoder_;
};

// "mean" -> kMean, "cls" -> kCls; anything else is a qforge::Error naming `where`.
Pooling parse_pooling(const std::string& text, const std::string& where);

}  // namespace qforge::rag
