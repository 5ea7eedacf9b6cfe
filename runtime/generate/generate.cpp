// What is here: generate() (see generate.h).
#include "runtime/generate/generate.h"

#include <algorithm>
#include <chrono>
#include <span>

#include "kernels/common.h"

namespace qforge {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GenerateResult generate(const LlamaModel& model, const std::vector<int32_t>& prompt,
                        const GenerateOptions& options, const TokenCallback& on_token) {
    QF_CHECK(!prompt.empty(), "generate: the prompt has no tokens");
    QF_CHECK(options.max_new_tokens >= 0, "max_new_tokens must be >= 0, got {}",
             options.max_new_tokens);
    const int64_t max_pos = model.config().max_position_embeddings;
    const auto n_prompt = static_cast<int64_t>(prompt.size());
    QF_CHECK(n_prompt < max_pos, "the prompt has {} tokens; the model's context is {}", n_prompt,
             max_pos);
    const int64_t total = std::min(n_prompt + options.max_new_tokens, max_pos);
    KVCache cache = model.make_cache(1, total);
    Sampler sampler(options.sampling);
    GenerateResult result;
    result.finish_reason = "length";

    auto t0 = std::chrono::steady_clock::now();
    Tensor logits = model.forward(prompt, 1, n_prompt, cache, /*last_only=*/true, options.adapter);
    result.prefill_seconds = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    const int64_t V = model.config().vocab_size;
    while (cache.length < total) {
        const int32_t next =
            sampler.sample(std::span<float>(logits.data<float>(), static_cast<std::size_t>(V)));
        if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) !=
            options.stop_ids.end()) {
            result.finish_reason = "stop";
            break;
        }
        result.tokens.push_back(next);
        if (on_token && !on_token(next)) {
            result.finish_reason = "stop";
            break;
        }
        if (static_cast<int64_t>(result.tokens.size()) == options.max_new_tokens ||
            cache.length + 1 > total) {
            break;
        }
        const int32_t step[1] = {next};
        logits = model.forward(step, 1, 1, cache, /*last_only=*/true, options.adapter);
    }
    result.decode_seconds = seconds_since(t0);
    return result;
}

}  // namespace qforge
