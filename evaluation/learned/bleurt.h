// What is here: BLEURT-style learned regression (Sellam et al. 2020) for checkpoints in
// Hugging Face BertForSequenceClassification layout (num_labels = 1): the pair
// [CLS] reference [SEP] candidate [SEP] (token types 0 then 1) through the encoder, the pooler
// (dense + tanh on [CLS]), then a linear layer to one score. BLEURT-20-D3/D6/D12 converted to
// that layout load as they are; the tokenizer is read from the checkpoint dir.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/encoder/bert_encoder.h"

namespace qforge::eval {

struct BleurtPair {
    std::vector<int32_t> ids;
    std::vector<int32_t> type_ids;
};

struct BleurtResult {
    std::vector<double> per_example;
    double mean = 0.0;
    std::size_t n_scored = 0;
    std::size_t n_truncated = 0;  // pairs longer than max_length, cut (longest first)
};

class BleurtScorer {
public:
    // config.json, safetensors with [bert.]embeddings/encoder/pooler and classifier.{weight,bias}
    // of shape (1, H) and (1), tokenizer.json or vocab.txt. Errors name the dir and tensor.
    static BleurtScorer load(const std::filesystem::path& dir);

    // [CLS] a [SEP] b [SEP] with at most max_length ids; when longer, tokens are cut from the
    // right as tokenizers' "longest_first" does (the shorter side is kept whole while it fits
    // in half the budget, else the longer side gets floor(budget/2)).
    BleurtPair encode_pair(const std::string& reference, const std::string& candidate,
                           int64_t max_length, bool* truncated = nullptr) const;

    // One score per (references[i], candidates[i]), in the checkpoint's units.
    BleurtResult score(const std::vector<std::string>& references,
                       const std::vector<std::string>& candidates, int64_t max_length = 512) const;

private:
    BertEncoder encoder_;
    std::vector<float> pooler_w_, pooler_b_;  // (H, H), (H)
    std::vector<float> classifier_w_;         // (H)
    float classifier_b_ = 0.0f;
};

}  // namespace qforge::eval
