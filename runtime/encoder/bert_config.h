// What is here: BertConfig, the Hugging Face BERT config.json (BertModel and the
// sentence-transformers / BLEURT checkpoints built on it), parsed and validated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace qforge::io {

struct BertConfig {
    int64_t vocab_size = 0, hidden_size = 0, num_hidden_layers = 0, num_attention_heads = 0,
            intermediate_size = 0;
    int64_t max_position_embeddings = 512, type_vocab_size = 2;  // transformers' defaults
    float layer_norm_eps = 1e-12f;
    std::string hidden_act = "gelu";                   // only the exact erf GELU is supported
    std::string position_embedding_type = "absolute";  // only absolute is supported
    int32_t pad_token_id = 0;

    int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// Reads <dir>/config.json (or the given .json file). Every problem is one qforge::Error naming
// the file, the key and what was expected.
BertConfig load_bert_config(const std::filesystem::path& config_json_or_dir);

}  // namespace qforge::io
