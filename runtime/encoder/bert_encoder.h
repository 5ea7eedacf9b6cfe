// What is here: BertEncoder, a BERT-family sentence encoder (Hugging Face BertModel weights,
// inference only, fp32 on the CPU backend): token ids -> last hidden states -> pooled,
// normalized sentence embeddings. Used by the RAG dense index and the learned metrics.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "runtime/encoder/bert_config.h"
#include "runtime/encoder/pooling.h"
#include "runtime/tensor/tensor.h"
#include "runtime/tokenizer/wordpiece.h"

namespace qforge {

class BertEncoder {
public:
    // config.json + model.safetensors (or sharded) from `dir`, HF BertModel tensor names, with
    // or without a "bert." prefix (sentence-transformers, BLEURT, BertFor* heads); tensors
    // other than the encoder's (pooler, heads) are ignored. The tokenizer is loaded from
    // `tokenizer_dir` (default: `dir`) when it holds tokenizer.json or vocab.txt; embed() needs
    // one. Weights may be stored as F32, BF16 or F16 and are widened to f32.
    static BertEncoder load(const std::filesystem::path& dir,
                            const std::filesystem::path& tokenizer_dir = {});

    const io::BertConfig& config() const { return config_; }

    bool has_tokenizer() const { return tokenizer_.has_value(); }

    const WordPieceTokenizer& tokenizer() const;

    // ids, mask: (B*T) row-major; mask 1 = real token, 0 = padding; token_types (B*T), each in
    // [0, type_vocab_size), or all 0 when null (a sentence pair's second segment is type 1).
    // Returns the last hidden states (B,T,H), f32, padded positions included.
    Tensor forward(const std::vector<int32_t>& ids, const std::vector<int32_t>& mask, int64_t B,
                   int64_t T, const std::vector<int32_t>* token_types = nullptr) const;

    // Tokenizes (truncating to min(max_length, max_position_embeddings) ids, [CLS] and [SEP]
    // included; sentence-transformers' MiniLM uses 256), groups texts of similar length into
    // batches of batch_size, pads each batch to its longest, runs forward and pools. Returns
    // one vector of H floats per text, in the order of `texts`.
    std::vector<std::vector<float>> embed(const std::vector<std::string>& texts,
                                          Pooling pooling = Pooling::kMean, bool normalize = true,
                                          int64_t batch_size = 32, int64_t max_length = 512) const;

private:
    struct Layer {
        Tensor q_w, q_b, k_w, k_b, v_w, v_b, attn_out_w, attn_out_b, attn_ln_w, attn_ln_b;
        Tensor inter_w, inter_b, out_w, out_b, out_ln_w, out_ln_b;
    };

    io::BertConfig config_;
    Tensor word_emb_, pos_emb_, type_emb_, emb_ln_w_, emb_ln_b_;
    std::vector<Layer> layers_;
    std::optional<WordPieceTokenizer> tokenizer_;
    kernels::Ctx ctx_{};
};

}  // namespace qforge
