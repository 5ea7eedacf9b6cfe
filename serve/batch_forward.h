// What is here: BatchForward, one forward step over a batch of sequences that each sit at
// their own position in their own KV-cache slot and each may use their own LoRA adapter
// (continuous batching; Punica / S-LoRA style): every projection runs one base GEMM over all
// the batch's tokens, then one low-rank update per adapter group (rows sharing an adapter).
// A row holds one token (decode) or a whole prompt (prefill); both mix in one step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/common.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
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
    BatchForward(const LlamaModel& model, KvPool& pool, kernels::Ctx ctx = {});

    // Appends each row's keys/values to its slot and returns logits (R, V): row i's logits
    // start at logit row first_logit[i] (T rows when all_logits, else 1).
    std::span<const float> run(std::span<const BatchRow> rows, std::vector<int64_t>& first_logit);

private:
    struct Group {  // the token ranges [begin, begin + count) that share one adapter
        const LoraAdapter* adapter;
        std::vector<std::pair<int64_t, int64_t>> ranges;
        int64_t tokens = 0;
    };

    // y (N,out) = beta * y + x W^T, then each adapter group's rows += s (x A^T) B^T.
    void project(int64_t layer, int t, float* y, const float* x, int64_t N, float beta);

    const LlamaModel& model_;
    KvPool& pool_;
    kernels::Ctx ctx_;
    std::vector<Group> groups_;
    // Workspace, grown to the largest step seen and then reused.
    std::vector<int32_t> tokens_, pos_;
    std::vector<float> x_, xn_, q_, k_, v_, att_, gate_, up_, rstd_, head_in_, head_n_, logits_;
    std::vector<float> dequant_, xg_, ug_, yg_;
};

}  // namespace qforge::serve
