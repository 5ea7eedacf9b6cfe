// What is here: LlamaOnDevice, the frozen base weights of a Llama where a train step runs: on the
// CPU a view of a loaded LlamaModel (no copy); on a GPU an upload of it, NF4 projections kept as
// NF4. Or a random-initialised model of a named shape, generated and quantized where it lives
// (so an 8B benchmark base never exists in fp32 on the host).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "kernels/memory.h"
#include "kernels/nf4.h"
#include "runtime/io/hf_config.h"
#include "runtime/model/llama.h"
#include "runtime/tensor/device_array.h"

namespace qforge {

// One frozen (rows, cols) projection: dense fp32, or NF4 storage on the same device.
struct ProjectionOnDevice {
    int64_t rows = 0, cols = 0;
    const float* dense = nullptr;  // when not NF4
    bool nf4 = false;
    kernels::Nf4View nf4_view{};
};

class LlamaOnDevice {
public:
    // The model's weights on ctx.device (CPU: borrowed from `model`, which must outlive this).
    static LlamaOnDevice from_model(const LlamaModel& model, const kernels::Ctx& ctx);

    // Weights drawn from N(0, 0.02^2) (transformers' initializer_range) with norms at 1, then the
    // projections quantized to NF4 (when nf4) on ctx.device. Deterministic in seed.
    static LlamaOnDevice random(const io::LlamaConfig& config, const kernels::Ctx& ctx, bool nf4,
                                uint64_t seed);

    const io::LlamaConfig& config() const { return config_; }

    const kernels::Ctx& ctx() const { return ctx_; }

    // The (V, C) input embedding on the device, or nullptr when it stays in host memory: on a
    // GPU an untied embedding is only ever read row by row (it is frozen), so it is kept in
    // pinned host memory that the embedding kernel reads over the bus (embed_rows) instead of
    // holding V x C floats of GPU memory (2 GiB for Llama-3-8B).
    const float* embed() const { return embed_; }

    // out (N, C) on the device = the embedding rows of ids (device, N): the embedding kernel,
    // on the device table or on the pinned host one (about 1 ms per 4,096 Llama-3-8B rows).
    // (queued on ctx's stream: the model's device, the caller's stream)
    void embed_rows(const kernels::Ctx& ctx, float* out, const int32_t* device_ids, int64_t N,
                    kernels::IndexCheck check = kernels::IndexCheck::kWait) const;

    // The (V, C) LM head in fp32 on the device; nullptr once make_lm_head_bf16() dropped it.
    const float* lm_head() const { return lm_head_; }

    // The LM head rounded to bf16 (uint16 bits), or nullptr before make_lm_head_bf16().
    const uint16_t* lm_head_bf16() const {
        return lm_head_bf16_.size() > 0 ? lm_head_bf16_.data() : nullptr;
    }

    // Keeps a bf16 copy of the LM head for bf16 GEMMs (the train step's bf16 path) and, on a GPU
    // with an untied head, frees the fp32 one (2 GiB for Llama-3-8B; the head is frozen).
    void make_lm_head_bf16();

    const float* final_norm() const { return final_norm_; }

    const float* attn_norm(int64_t layer) const { return attn_norm_[static_cast<size_t>(layer)]; }

    const float* mlp_norm(int64_t layer) const { return mlp_norm_[static_cast<size_t>(layer)]; }

    // Projection t (LoraTarget order: q k v o gate up down) of a layer.
    const ProjectionOnDevice& projection(int64_t layer, int t) const {
        return proj_[static_cast<size_t>(layer * 7 + t)];
    }

    // Its fp32 weights: the dense pointer, or the NF4 storage dequantized into scratch (on ctx).
    const float* projection_weights(int64_t layer, int t, DeviceArray<float>& scratch) const;

    const float* rope_cos() const { return rope_cos_; }

    const float* rope_sin() const { return rope_sin_; }

    // Bytes of base weights held on the device (NF4 counted as stored).
    std::size_t weight_bytes() const { return weight_bytes_; }

private:
    float* own_f32(int64_t n);
    uint8_t* own_u8(int64_t n);
    void make_rope_tables();

    io::LlamaConfig config_;
    kernels::Ctx ctx_;
    const float *embed_ = nullptr, *lm_head_ = nullptr, *final_norm_ = nullptr;
    const float *rope_cos_ = nullptr, *rope_sin_ = nullptr;
    std::vector<const float*> attn_norm_, mlp_norm_;
    std::vector<ProjectionOnDevice> proj_;
    std::deque<DeviceArray<float>> f32_;  // storage owned here (deque: stable addresses)
    std::deque<DeviceArray<uint8_t>> u8_;
    DeviceArray<uint16_t> lm_head_bf16_;
    std::size_t weight_bytes_ = 0;
    // Allocates the pinned host table (V x C floats) for the caller to fill.
    float* pin_host_embed();

    kernels::PinnedHostBuffer host_embed_;    // the table kept on the host (see embed())
    const float* host_embed_view_ = nullptr;  // its address for the device's kernels
};

}  // namespace qforge
