// What is here: the Llama-family causal LM (RMSNorm, RoPE, GQA attention, SwiGLU) loaded
// from a Hugging Face model directory, and its inference forward with a KV cache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "runtime/io/hf_config.h"
#include "runtime/model/frozen_linear.h"
#include "runtime/tensor/tensor.h"

namespace qforge {

class LoraAdapter;

// Per-layer keys and values for B sequences of up to max_len positions:
// k[l], v[l] are (B, max_len, Hkv, D); the first `length` positions are filled.
struct KVCache {
    int64_t batch = 0;
    int64_t max_len = 0;
    int64_t length = 0;
    std::vector<Tensor> k, v;
};

// The frozen base weights (HF names in comments): norms and embeddings in fp32, the seven
// projections fp32 or NF4.
struct LlamaLayerWeights {
    Tensor attn_norm;                   // input_layernorm.weight (C)
    FrozenLinear wq, wk, wv, wo;        // self_attn.{q,k,v,o}_proj.weight
    Tensor mlp_norm;                    // post_attention_layernorm.weight (C)
    FrozenLinear w_gate, w_up, w_down;  // mlp.{gate,up,down}_proj.weight

    // The projection LoRA target t adapts (order of LoraTarget: q k v o gate up down).
    const FrozenLinear& projection(int t) const;
};

struct LlamaLoadOptions {
    bool quantize_nf4 = false;  // quantize the projections to NF4 at load (QLoRA)
};

struct LlamaWeights {
    Tensor embed;  // model.embed_tokens.weight (V, C)
    std::vector<LlamaLayerWeights> layers;
    Tensor final_norm;  // model.norm.weight (C)
    Tensor lm_head;     // lm_head.weight (V, C); shares embed when tied
};

class LlamaModel {
public:
    // Reads config.json and the safetensors checkpoint (single file or sharded), validates
    // every tensor against the config, and converts the weights to fp32.
    // Checkpoints already in bitsandbytes 4-bit form stay NF4 whatever the options say.
    static LlamaModel load(const std::filesystem::path& dir, const LlamaLoadOptions& options = {});

    // A model from a config and a weight source (used by load() and by random init).
    static LlamaModel from_weights(io::LlamaConfig config, LlamaWeights weights);

    // Bytes held by the base weights (NF4 storage counted as stored).
    std::size_t weight_bytes() const;

    // The RoPE tables (max_position_embeddings, D/2).
    const float* rope_cos() const { return rope_cos_.data(); }

    const float* rope_sin() const { return rope_sin_.data(); }

    const io::LlamaConfig& config() const { return config_; }

    const LlamaWeights& weights() const { return weights_; }

    KVCache make_cache(int64_t batch, int64_t max_len) const;

    // Runs tokens (B, T), row-major, at positions cache.length .. cache.length+T-1 of every
    // sequence, appends their keys/values to the cache, and returns logits: (B, T, V), or
    // (B, 1, V) for the last position only when last_only.
    // With `lora`, every adapted projection adds its low-rank update (no dropout).
    Tensor forward(std::span<const int32_t> tokens, int64_t B, int64_t T, KVCache& cache,
                   bool last_only, const LoraAdapter* lora = nullptr) const;

private:
    io::LlamaConfig config_;
    LlamaWeights weights_;
    std::vector<float> rope_cos_, rope_sin_;  // (max_position_embeddings, D/2)
    int64_t rope_len_ = 0;
};

}  // namespace qforge
