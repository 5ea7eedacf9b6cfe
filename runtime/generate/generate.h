// What is here: autoregressive generation for one prompt with a KV cache: prefill, then
// one decode step per token, stopping at max_new_tokens, a stop token or a stop string.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/generate/sampler.h"
#include "runtime/model/llama.h"

namespace qforge {

struct GenerateOptions {
    int64_t max_new_tokens = 64;
    SamplingParams sampling;
    std::vector<int32_t> stop_ids;         // e.g. the EOS ids; the stop token is not returned
    const LoraAdapter* adapter = nullptr;  // applied to every forward when set
};

struct GenerateResult {
    std::vector<int32_t> tokens;  // new tokens only
    std::string finish_reason;    // "length" or "stop"
    double prefill_seconds = 0.0;
    double decode_seconds = 0.0;
};

// Called after each new token; return false to stop (e.g. a stop string was seen).
using TokenCallback = std::function<bool(int32_t token)>;

GenerateResult generate(const LlamaModel& model, const std::vector<int32_t>& prompt,
                        const GenerateOptions& options, const TokenCallback& on_token = {});

}  // namespace qforge
