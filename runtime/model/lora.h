// What is here: LoRA adapters for the Llama projections (Hu et al. 2021), stored as one flat
// fp32 buffer so the optimizer, gradient clipping and the gradient all-reduce each see one
// array; saved and loaded in Hugging Face PEFT's layout (adapter_config.json +
// adapter_model.safetensors), which PEFT, vLLM and LoRAX load without conversion.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io/hf_config.h"

namespace qforge {

enum class LoraTarget { kQ, kK, kV, kO, kGate, kUp, kDown };
inline constexpr int kNumLoraTargets = 7;

// "q_proj", ... as PEFT's target_modules names them.
std::string_view lora_target_name(LoraTarget t);
// "self_attn.q_proj", "mlp.gate_proj", ...: the module path inside a decoder layer.
std::string_view lora_target_path(LoraTarget t);
LoraTarget lora_target_from_name(std::string_view name);  // throws for unknown names

struct LoraOptions {
    int64_t r = 8;
    float alpha = 16.0f;
    float dropout = 0.0f;
    bool use_rslora = false;  // scale alpha / sqrt(r) (Kalajdzievski 2023) instead of alpha / r
    std::vector<std::string> target_modules = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                               "gate_proj", "up_proj", "down_proj"};
};

// Where one adapted projection's matrices live in the flat buffer:
// A (r, in) at a_offset, B (out, r) at b_offset. in/out are the projection's shape.
struct LoraSlot {
    bool enabled = false;
    int64_t in = 0, out = 0;
    int64_t a_offset = 0, b_offset = 0;
};

class LoraAdapter {
public:
    // PEFT's initialisation: A ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0.
    static LoraAdapter create(const io::LlamaConfig& config, const LoraOptions& options,
                              uint64_t seed);
    // Reads a PEFT adapter directory and checks it against the base model's config.
    static LoraAdapter load_peft(const std::filesystem::path& dir, const io::LlamaConfig& config);
    // Writes adapter_config.json and adapter_model.safetensors atomically into dir.
    void save_peft(const std::filesystem::path& dir, const std::string& base_model) const;

    const LoraOptions& options() const { return options_; }

    float scale() const;

    int64_t num_layers() const { return static_cast<int64_t>(slots_.size()); }

    const LoraSlot& slot(int64_t layer, LoraTarget t) const {
        return slots_[static_cast<std::size_t>(layer)][static_cast<std::size_t>(t)];
    }

    int64_t num_params() const { return static_cast<int64_t>(params_.size()); }

    std::vector<float>& params() { return params_; }

    const std::vector<float>& params() const { return params_; }

    // PEFT's tensor name for A or B of one slot, e.g.
    // base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight
    static std::string peft_name(int64_t layer, LoraTarget t, bool is_b);

private:
    void layout(const io::LlamaConfig& config);

    LoraOptions options_;
    std::vector<std::array<LoraSlot, kNumLoraTargets>> slots_;
    std::vector<float> params_;
};

}  // namespace qforge
