// What is here: the training step of a Llama with LoRA adapters on a frozen (fp32 or NF4)
// base: forward with an explicit activation store, loss, and the backward written out layer
// by layer (no autograd). Only the LoRA matrices get weight gradients; activation
// checkpointing keeps each layer's input only and recomputes the rest during backward.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/model/lora_ops.h"

namespace qforge {

// One micro-batch of B packed rows of T tokens (layout of train::DataLoader::Batch).
struct TokenBatch {
    int64_t B = 0, T = 0;
    const int32_t* input = nullptr;        // (B,T)
    const int32_t* targets = nullptr;      // (B,T), -100 = no loss
    const int32_t* segment_ids = nullptr;  // (B,T) or nullptr
    const int32_t* positions = nullptr;    // (B,T) RoPE positions, or nullptr for 0..T-1
};

struct LossSum {
    double sum = 0.0;    // sum of token losses
    int64_t tokens = 0;  // tokens with a target
};

class LoraTrainStep {
public:
    // Workspace for micro-batches of up to B x T tokens, allocated once here.
    LoraTrainStep(const LlamaModel& model, const LoraAdapter& adapter, int64_t B, int64_t T,
                  bool activation_checkpointing);

    // Forward + backward. Gradients of (loss_scale * sum of token losses) are accumulated
    // (+=) into grads, laid out like adapter.params(). Dropout masks are keyed by
    // (dropout_seed, micro_key) so a resumed run draws the same ones.
    LossSum forward_backward(const TokenBatch& batch, float loss_scale, uint64_t dropout_seed,
                             uint64_t micro_key, float* grads);

    // Forward only, no dropout (validation).
    LossSum forward_loss(const TokenBatch& batch);

private:
    struct LayerActs {
        std::vector<float> xn1, rstd1, q, k, v, att, lse, x_mid, xn2, rstd2, gate, up, h;
        std::array<std::vector<float>, kNumLoraTargets> u;
    };

    void layer_forward(int64_t l, const TokenBatch& batch, LayerActs& a, const float* x_in,
                       float* x_out, bool training, uint64_t seed, uint64_t micro_key);
    void layer_backward(int64_t l, const TokenBatch& batch, LayerActs& a, const float* x_in,
                        float* dres, float* grads, bool training, uint64_t seed,
                        uint64_t micro_key);
    LossSum run(const TokenBatch& batch, bool backward, float loss_scale, uint64_t seed,
                uint64_t micro_key, float* grads);
    LoraProjection projection(int64_t l, int t, bool training, uint64_t seed, uint64_t micro_key);
    void allocate(LayerActs& a) const;

    const LlamaModel& model_;
    const LoraAdapter& adapter_;
    int64_t B_, T_;
    bool checkpointing_;
    std::vector<std::vector<float>> xs_;  // layer inputs (L+1) x (N,C); xs_[L] = final hidden
    std::vector<LayerActs> acts_;         // L sets, or 1 when checkpointing
    std::vector<int32_t> positions_;
    std::vector<std::vector<float>> dequant_;  // per projection: its fp32 weights (NF4 scratch)
    // backward scratch
    std::vector<float> dres_, dxn_, dF1_, dF2_, dF3_, dq_, dk_, dv_, datt_, du_, xd_;
    std::vector<float> xf_, rstd_f_, logits_, dlogits_, dxf_, losses_, lse_rows_, dloss_;
};

}  // namespace qforge
