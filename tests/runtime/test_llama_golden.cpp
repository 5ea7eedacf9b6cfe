// Llama forward + generation against golden values from Hugging Face transformers
// (tests/golden/make_golden_models.py): the real stories260K and three seeded random models
// in real HF layouts (bf16/f32 storage, sharded, head_dim 64/128, GQA/MHA, tied/untied,
// Llama-3 rope_scaling).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/rope.h"
#include "runtime/generate/generate.h"
#include "runtime/model/llama.h"
#include "support/test_support.h"

namespace qforge {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    return nlohmann::json::parse(in);
}

// max_i |a_i - b_i| / max_i |b_i|: logits are compared relative to their scale.
double max_rel_err(const float* got, const std::vector<float>& want) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        num = std::max(num, std::fabs(static_cast<double>(got[i]) - want[i]));
        den = std::max(den, std::fabs(static_cast<double>(want[i])));
    }
    return num / den;
}

TEST(LlamaGolden, Stories260KLastLogitsAndGreedy) {
    const auto dir = test::data_dir() / "models/stories260K";
    if (!std::filesystem::exists(dir / "config.json")) {
        GTEST_SKIP() << "shipped data not found at " << dir << " (set QFORGE_DATA)";
    }
    const auto golden = read_json(test::golden_dir() / "models/stories260K.json");
    const auto model = LlamaModel::load(dir);
    for (const auto& c : golden["cases"]) {
        SCOPED_TRACE(c["prompt"].get<std::string>());
        const auto ids = c["input_ids"].get<std::vector<int32_t>>();
        auto cache = model.make_cache(1, static_cast<int64_t>(ids.size()));
        Tensor logits = model.forward(ids, 1, static_cast<int64_t>(ids.size()), cache, true);
        const auto want = c["last_logits"].get<std::vector<float>>();
        ASSERT_EQ(logits.numel(), static_cast<int64_t>(want.size()));
        EXPECT_LT(max_rel_err(logits.data<float>(), want), 1e-3);

        GenerateOptions options;
        options.max_new_tokens = 64;
        const auto result = generate(model, ids, options);
        EXPECT_EQ(result.tokens, c["greedy_ids"].get<std::vector<int32_t>>());
    }
}

class RandomLlamaGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(RandomLlamaGolden, AllPositionLogitsAndGreedy) {
    const auto root = test::golden_dir() / "models";
    const auto golden = read_json(root / (GetParam() + ".json"));
    const auto model = LlamaModel::load(root / GetParam());

    // RoPE frequencies (incl. Llama-3 scaling) against transformers' inv_freq.
    const auto want_freq = golden["inv_freq"].get<std::vector<float>>();
    std::vector<float> inv_freq(want_freq.size());
    kernels::rope_inv_freq(inv_freq.data(), model.config().head_dim, model.config().rope_theta,
                           model.config().rope_scaling);
    for (std::size_t i = 0; i < want_freq.size(); ++i) {
        EXPECT_NEAR(inv_freq[i], want_freq[i], 1e-6 * std::fabs(want_freq[i]) + 1e-12) << i;
    }

    const auto ids = golden["input_ids"].get<std::vector<int32_t>>();
    const auto T = static_cast<int64_t>(ids.size());
    auto cache = model.make_cache(1, T);
    Tensor logits = model.forward(ids, 1, T, cache, false);
    const int64_t V = model.config().vocab_size;
    const auto& rows = golden["logits"];
    ASSERT_EQ(static_cast<int64_t>(rows.size()), T);
    for (int64_t t = 0; t < T; ++t) {
        const auto want = rows[static_cast<std::size_t>(t)].get<std::vector<float>>();
        EXPECT_LT(max_rel_err(logits.data<float>() + t * V, want), 1e-3) << "position " << t;
    }

    // The same positions through the KV cache in two chunks give the same logits.
    auto cache2 = model.make_cache(1, T);
    const int64_t half = T / 2;
    model.forward(std::span<const int32_t>(ids.data(), static_cast<std::size_t>(half)), 1, half,
                  cache2, false);
    Tensor rest = model.forward(
        std::span<const int32_t>(ids.data() + half, static_cast<std::size_t>(T - half)), 1,
        T - half, cache2, false);
    for (int64_t i = 0; i < (T - half) * V; ++i) {
        ASSERT_NEAR(rest.data<float>()[i], logits.data<float>()[half * V + i], 1e-4) << i;
    }

    GenerateOptions options;
    options.max_new_tokens = 16;
    const auto result =
        generate(model, golden["greedy_prompt_ids"].get<std::vector<int32_t>>(), options);
    EXPECT_EQ(result.tokens, golden["greedy_ids"].get<std::vector<int32_t>>());
}

INSTANTIATE_TEST_SUITE_P(Models, RandomLlamaGolden,
                         ::testing::Values("llama-hd64-gqa", "llama3-hd128-scaled",
                                           "llama-mha-f32-tied"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

}  // namespace
}  // namespace qforge
