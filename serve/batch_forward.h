// What is here: BatchForward, one forward step over a batch of sequences that each sit at
// their own position in their own KV-cache slot and each may use their own LoRA adapter
// (continuous batching; Punica / S-LoRA style): every projection runs one base GEMM over all
// the batch's tokens, then one low-rank update per adapter group (rows sharing an adapter).
// A row holds one token (decode) or a whole prompt (prefill); both mix in one step.
// The step runs on the KvPool's device (CPU or CUDA): weights through a LlamaOnDevice, each
// adapter's A/B uploaded once while requests use it, logits downloaded for the host sampler.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "kernels/common.h"
#include "runtime/model/llama.h"
#include "runtime/model/llama_on_device.h"
#include "runtime/model/lora.h"
#include "runtime/tensor/device_array.h"
#include "serve/kv_pool.h"

namespace qforge::serve {

struct BatchRow {
    int64_t slot = 0;                      // KV-cache slot of the sequence
    int64_t pos0 = 0;                      // positions already in the slot (first new position)
    std::span<const int32_t> tokens;       // new tokens, at pos0 .. pos0 + T - 1
    const LoraAdapter* adapter = nullptr;  // nullptr: the base model
    bool all_logits = false;               // logits for every new token, else the last only
};

class BatchForward {
public:
    // Runs on pool.ctx() (the model's weights are uploaded there once; `model` must outlive
    // this on the CPU, where they are borrowed).
    BatchForward(const LlamaModel& model, KvPool& pool);

    // Appends each row's keys/values to its slot and returns logits (R, V) in host memory:
    // row i's logits start at logit row first_logit[i] (T rows when all_logits, else 1).
    // An adapter must stay alive while rows use it (its device copy lives until the first
    // step in which no row uses it).
    std::span<const float> run(std::span<const BatchRow> rows, std::vector<int64_t>& first_logit);

    // Adapters whose A/B are held on the device now (0 on the CPU, which reads them in place).
    int64_t adapters_on_device() const { return static_cast<int64_t>(uploaded_.size()); }

private:
    struct Group {  // the rows sharing one adapter; their tokens are contiguous in the step
        const LoraAdapter* adapter;
        const float* params;  // the adapter's A/B on the device (nullptr: base)
        int64_t begin = 0, tokens = 0;
    };

    struct Uploaded {  // one adapter's parameters on the device
        const LoraAdapter* adapter;
        uint64_t fingerprint;
        DeviceArray<float> params;
    };

    const float* adapter_params(const LoraAdapter* adapter, std::vector<bool>& used);
    // y (N,out) = beta * y + x W^T, then each adapter group's rows += s (x A^T) B^T.
    void project(int64_t layer, int t, float* y, const float* x, int64_t N, float beta);

    KvPool& pool_;
    kernels::Ctx ctx_;
    LlamaOnDevice model_;
    std::vector<Group> groups_;
    std::deque<Uploaded> uploaded_;
    // Workspace on the device, grown to the largest step seen and then reused.
    std::vector<int32_t> tokens_, pos_;
    std::vector<int64_t> row_offset_;  // each row's first token in the step's layout
    DeviceArray<int32_t> tokens_d_, pos_d_;
    DeviceArray<float> x_, xn_, q_, k_, v_, att_, gate_, up_, rstd_, head_in_, head_n_, logits_;
    DeviceArray<float> dequant_, ug_;
    std::vector<float> host_logits_;  // logits_ downloaded (not used on the CPU)
};

}  // namespace qforge::serve
