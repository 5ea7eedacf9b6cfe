// What is here: BERTScore-style precision/recall/F1 (Zhang et al. 2020) on a user-given
// BERT-family encoder: greedy cosine matching of the last hidden states of candidate and
// reference tokens, as bert_score's greedy_cos_idf computes it (idf off by default, no
// baseline rescale).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/encoder/bert_encoder.h"

namespace qforge::eval {

struct BertScoreOptions {
    bool idf = false;          // weight tokens by idf over the references of the call
    int64_t max_length = 512;  // ids per text, [CLS]/[SEP] included (longer texts truncated)
};

struct BertScoreValue {
    double precision = 0.0;  // 0..1 for most encoders (cosines can be negative)
    double recall = 0.0;
    double f1 = 0.0;
};

struct BertScoreResult {
    std::vector<BertScoreValue> per_example;
    BertScoreValue mean;       // over all pairs (an empty side scores 0, as bert_score does)
    std::size_t n_scored = 0;  // pairs scored: all of them
    std::size_t n_empty = 0;   // pairs with an empty candidate or reference (scored 0)
};

class BertScorer {
public:
    // A BertEncoder directory (config.json, safetensors, tokenizer.json or vocab.txt); the
    // tokenizer may come from another directory.
    static BertScorer load(const std::filesystem::path& encoder_dir,
                           const std::filesystem::path& tokenizer_dir = {});

    // candidates[i] is scored against references[i]. Per token, the weight is 1 (idf off) or
    // log((M+1)/(df+1)) over the M references (idf on); [CLS] and [SEP] weigh 0 but take part
    // in the matching. P = weighted mean over candidate tokens of the best cosine with a
    // reference token, R the same the other way, F = 2PR/(P+R). A side with no tokens scores 0.
    BertScoreResult score(const std::vector<std::string>& candidates,
                          const std::vector<std::string>& references,
                          const BertScoreOptions& options = {}) const;

    // The token ids score() uses for a text (truncated to max_length).
    std::vector<int32_t> token_ids(const std::string& text, int64_t max_length) const;

private:
    struct Embedded {
        std::vector<int32_t> ids;
        std::vector<float> rows;  // (T, H), each row L2-normalized
    };

    const Embedded& embedded(const std::string& text, int64_t max_length) const;

    BertEncoder encoder_;
    // References repeat across systems: their embeddings are computed once.
    mutable std::unordered_map<std::string, Embedded> cache_;
};

}  // namespace qforge::eval
