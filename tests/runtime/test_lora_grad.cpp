// LoRA training step: analytic LoRA gradients against central finite differences of the loss
// on a tiny random Llama (packed rows with segments, GQA, head_dim 4), with and without
// dropout; activation checkpointing gives the same gradients; the frozen base stays frozen;
// the inference forward with an adapter gives the training forward's loss.
#include <cmath>
#include <gtest/gtest.h>
#include <random>

#include "kernels/cross_entropy.h"
#include "runtime/model/llama_lora.h"
#include "support/test_support.h"
#include "support/tiny_llama.h"

namespace qforge {
namespace {

struct Fixture {
    test::TinyLlamaShape shape;
    int64_t B = 2, T = 9;
    std::vector<int32_t> input, targets, segments, positions;

    Fixture() {
        std::mt19937_64 rng(test::test_seed());
        std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(shape.V - 1));
        for (int64_t b = 0; b < B; ++b) {
            // row 0 packs two examples (5 + 4 tokens), row 1 holds one
            const int64_t split = b == 0 ? 5 : T;
            for (int64_t t = 0; t < T; ++t) {
                input.push_back(tok(rng));
                const bool seg_end = t == split - 1 || t == T - 1;
                targets.push_back(seg_end || t == 1 ? -100 : tok(rng));
                segments.push_back(t < split ? 0 : 1);
                positions.push_back(static_cast<int32_t>(t < split ? t : t - split));
            }
        }
    }

    TokenBatch batch() const {
        return {B, T, input.data(), targets.data(), segments.data(), positions.data()};
    }
};

LoraAdapter random_adapter(const LlamaModel& model, float dropout, uint64_t seed) {
    LoraOptions o;
    o.r = 3;
    o.alpha = 6.0f;
    o.dropout = dropout;
    LoraAdapter a = LoraAdapter::create(model.config(), o, seed);
    std::mt19937_64 rng(seed + 1);
    std::uniform_real_distribution<float> d(-0.5f, 0.5f);
    for (auto& p : a.params()) {  // B too, so every path carries gradient
        p = d(rng);
    }
    return a;
}

void check_gradients(float dropout, bool checkpointing) {
    Fixture f;
    const LlamaModel model = test::make_tiny_llama(f.shape, test::test_seed());
    LoraAdapter adapter = random_adapter(model, dropout, test::test_seed() + 7);
    LoraTrainStep step(model, adapter, f.B, f.T, checkpointing);
    std::vector<float> grads(adapter.params().size(), 0.0f);
    const LossSum base = step.forward_backward(f.batch(), 1.0f, 11, 5, grads.data());
    ASSERT_GT(base.tokens, 0);

    // loss as a function of one parameter, with the same dropout masks
    std::vector<float> scratch(grads.size());
    auto loss_at = [&](std::size_t i, float value) {
        const float saved = adapter.params()[i];
        adapter.params()[i] = value;
        std::fill(scratch.begin(), scratch.end(), 0.0f);
        const double l = step.forward_backward(f.batch(), 1.0f, 11, 5, scratch.data()).sum;
        adapter.params()[i] = saved;
        return l;
    };
    std::mt19937_64 rng(test::test_seed() + 3);
    std::uniform_int_distribution<std::size_t> pick(0, grads.size() - 1);
    double num = 0.0, den = 0.0;
    for (int n = 0; n < 60; ++n) {
        const std::size_t i = pick(rng);
        const float x = adapter.params()[i];
        const float h = 1e-2f;
        const double fd = (loss_at(i, x + h) - loss_at(i, x - h)) / (2.0 * h);
        num += (fd - grads[i]) * (fd - grads[i]);
        den += fd * fd;
    }
    EXPECT_LT(std::sqrt(num / den), 2e-2) << "relative L2 error of 60 sampled LoRA gradients";
}

TEST(LoraGrad, MatchesFiniteDifferences) {
    check_gradients(0.0f, false);
}

TEST(LoraGrad, MatchesFiniteDifferencesWithDropout) {
    check_gradients(0.3f, false);
}

TEST(LoraGrad, ActivationCheckpointingGivesTheSameGradients) {
    Fixture f;
    const LlamaModel model = test::make_tiny_llama(f.shape, test::test_seed());
    const LoraAdapter adapter = random_adapter(model, 0.2f, test::test_seed() + 7);
    LoraTrainStep plain(model, adapter, f.B, f.T, false), ckpt(model, adapter, f.B, f.T, true);
    std::vector<float> g1(adapter.params().size()), g2(g1.size());
    const auto l1 = plain.forward_backward(f.batch(), 0.5f, 3, 9, g1.data());
    const auto l2 = ckpt.forward_backward(f.batch(), 0.5f, 3, 9, g2.data());
    EXPECT_EQ(l1.sum, l2.sum);
    for (std::size_t i = 0; i < g1.size(); ++i) {
        ASSERT_EQ(g1[i], g2[i]) << i;
    }
}

TEST(LoraGrad, NoDropoutForwardMatchesInferenceForwardWithAdapter) {
    Fixture f;
    const LlamaModel model = test::make_tiny_llama(f.shape, test::test_seed(), /*nf4=*/true);
    const LoraAdapter adapter = random_adapter(model, 0.0f, test::test_seed() + 7);
    LoraTrainStep step(model, adapter, 1, f.T, false);
    // row 1 of the fixture is one unpacked example
    const int32_t* in = f.input.data() + f.T;
    const int32_t* tg = f.targets.data() + f.T;
    TokenBatch one{1, f.T, in, tg, nullptr, nullptr};
    const LossSum train_loss = step.forward_loss(one);

    auto cache = model.make_cache(1, f.T);
    Tensor logits = model.forward(std::span<const int32_t>(in, static_cast<std::size_t>(f.T)), 1,
                                  f.T, cache, false, &adapter);
    std::vector<float> losses(static_cast<std::size_t>(f.T));
    kernels::cross_entropy_forward({}, losses.data(), nullptr, logits.data<float>(), tg, f.T,
                                   f.shape.V);
    double sum = 0.0;
    for (float l : losses) {
        sum += l;
    }
    EXPECT_NEAR(train_loss.sum, sum, 1e-4 * std::fabs(sum));
}

}  // namespace
}  // namespace qforge
