// What is here: next-token selection from logits: greedy, temperature, top-k, top-p, with a
// seeded RNG, in the order Hugging Face's logits processors apply them.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace qforge {

struct SamplingParams {
    float temperature = 0.0f;  // 0 = greedy (argmax, first index on ties, as torch.argmax)
    int64_t top_k = 0;         // 0 = off
    float top_p = 1.0f;        // 1 = off
    uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(SamplingParams params);

    // Picks a token id from one row of logits (V). The row is used as scratch.
    int32_t sample(std::span<float> logits);

    const SamplingParams& params() const { return params_; }

private:
    SamplingParams params_;
    std::mt19937_64 rng_;
};

// Index of the largest value; the first one on ties.
int32_t argmax(std::span<const float> values);

}  // namespace qforge
