// What is here: the Hugging Face Llama config.json (classic keys and transformers v5's
// rope_parameters), parsed and validated into LlamaConfig, and the check that a checkpoint
// holds every tensor that config implies, with the right shapes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/rope.h"
#include "runtime/io/safetensors.h"

namespace qforge::io {

// Optional keys take transformers' LlamaConfig defaults (docs/formats.md lists them).
struct LlamaConfig {
    std::string model_type;  // "llama" (or "mistral" without sliding-window attention)
    int64_t hidden_size = 0, intermediate_size = 0, num_hidden_layers = 0, num_attention_heads = 0,
            num_key_value_heads = 0, head_dim = 0, vocab_size = 0, max_position_embeddings = 0;
    float rms_norm_eps = 1e-6f;
    float rope_theta = 10000.0f;
    kernels::RopeScaling rope_scaling{};  // type kNone unless config.json asks for scaling
    bool tie_word_embeddings = false;
    bool attention_bias = false, mlp_bias = false;
    std::string hidden_act;              // always "silu" after validation
    int32_t bos_token_id = -1;           // -1 when config.json has none (null)
    std::vector<int32_t> eos_token_ids;  // config.json may hold an int, a list, or null
    std::string torch_dtype;             // "torch_dtype" (v4) or "dtype" (v5); "" when absent
};

// Reads <dir>/config.json (or the given .json file). Every problem is one qforge::Error naming
// the file, the key and what was expected.
LlamaConfig load_llama_config(const std::filesystem::path& config_json_or_dir);

// Every tensor the config implies exists with the shape it implies and a float dtype
// (F32/BF16/F16), or, for a projection, in bitsandbytes 4-bit form whose quant-state shape is
// the implied one; no model.layers.{i} beyond num_hidden_layers. Errors name the tensor, the
// expected and actual shape, and the shard file.
void validate_llama_checkpoint(const LlamaConfig& config, const CheckpointReader& checkpoint);

// The expected (name, shape) list, in file order: embeddings, layers, final norm, lm_head.
std::vector<std::pair<std::string, std::vector<int64_t>>> llama_tensor_shapes(
    const LlamaConfig& config);

}  // namespace qforge::io
