// LoRA against Hugging Face PEFT (tests/golden/make_golden_peft.py, run on the GPU machine):
// 1. PEFT loaded an adapter written by `qforge train` unchanged; qforge's logits with that
//    adapter match PEFT's.
// 2. PEFT saved an adapter with random A and B; qforge reads it, and one step's LoRA
//    gradients of the mean token cross-entropy match PEFT's autograd.
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/model/llama_lora.h"
#include "support/test_support.h"

namespace qforge {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

std::filesystem::path stories() {
    return test::data_dir() / "models/stories260K";
}

TEST(PeftGolden, QforgeAdapterLogitsMatchPeft) {
    if (!std::filesystem::exists(stories() / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const auto golden = read_json(test::golden_dir() / "peft/adapter_logits.json");
    const auto model = LlamaModel::load(stories());
    const auto adapter =
        LoraAdapter::load_peft(test::golden_dir() / "peft/qforge_adapter", model.config());
    for (const auto& c : golden["cases"]) {
        const auto ids = c["input_ids"].get<std::vector<int32_t>>();
        const auto T = static_cast<int64_t>(ids.size());
        auto cache = model.make_cache(1, T);
        const Tensor with = model.forward(ids, 1, T, cache, false, &adapter);
        auto cache2 = model.make_cache(1, T);
        const Tensor without = model.forward(ids, 1, T, cache2, false);
        const int64_t V = model.config().vocab_size;
        double err = 0.0, scale = 0.0, moved = 0.0;
        for (int64_t t = 0; t < T; ++t) {
            const auto want = c["logits"][static_cast<std::size_t>(t)].get<std::vector<float>>();
            for (int64_t v = 0; v < V; ++v) {
                const double got = with.data<float>()[t * V + v];
                err = std::max(err, std::fabs(got - want[static_cast<std::size_t>(v)]));
                scale = std::max(scale,
                                 std::fabs(static_cast<double>(want[static_cast<std::size_t>(v)])));
                moved = std::max(moved, std::fabs(got - without.data<float>()[t * V + v]));
            }
        }
        EXPECT_LT(err / scale, 1e-4) << c["prompt"];
        EXPECT_GT(moved / scale, 1e-2) << "the adapter should change the logits";
    }
}

TEST(PeftGolden, OneStepLoraGradientsMatchPeft) {
    if (!std::filesystem::exists(stories() / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const auto golden = read_json(test::golden_dir() / "peft/one_step.json");
    const auto model = LlamaModel::load(stories());
    const auto adapter =
        LoraAdapter::load_peft(test::golden_dir() / "peft/step_adapter", model.config());
    std::vector<int32_t> input, targets;
    for (const auto& row : golden["input_ids"]) {
        for (int32_t id : row.get<std::vector<int32_t>>()) {
            input.push_back(id);
        }
    }
    for (const auto& row : golden["targets"]) {
        for (int32_t id : row.get<std::vector<int32_t>>()) {
            targets.push_back(id);
        }
    }
    const auto B = static_cast<int64_t>(golden["input_ids"].size());
    const auto T = static_cast<int64_t>(input.size()) / B;
    int64_t count = 0;
    for (int32_t t : targets) {
        count += t != -100;
    }
    LoraTrainStep step(model, adapter, B, T, false);
    std::vector<float> grads(adapter.params().size(), 0.0f);
    const TokenBatch batch{B, T, input.data(), targets.data(), nullptr, nullptr};
    const LossSum loss =
        step.forward_backward(batch, 1.0f / static_cast<float>(count), 0, 0, grads.data());
    EXPECT_NEAR(loss.sum / static_cast<double>(count), golden["loss"].get<double>(), 1e-4);

    const auto& want = golden["grads"];
    int checked = 0;
    for (int64_t l = 0; l < adapter.num_layers(); ++l) {
        for (int t = 0; t < kNumLoraTargets; ++t) {
            const auto& s = adapter.slot(l, static_cast<LoraTarget>(t));
            for (bool is_b : {false, true}) {
                const std::string name =
                    LoraAdapter::peft_name(l, static_cast<LoraTarget>(t), is_b);
                ASSERT_TRUE(want.contains(name)) << name;
                const float* got = grads.data() + (is_b ? s.b_offset : s.a_offset);
                double num = 0.0, den = 0.0;
                std::size_t i = 0;
                for (const auto& row : want[name]) {
                    for (double g : row.get<std::vector<double>>()) {
                        num += (got[i] - g) * (got[i] - g);
                        den += g * g;
                        ++i;
                    }
                }
                EXPECT_LT(std::sqrt(num / den), 1e-4) << name;
                ++checked;
            }
        }
    }
    EXPECT_EQ(checked, 70);
}

}  // namespace
}  // namespace qforge
