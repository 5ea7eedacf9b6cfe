// Training parts that need no data files: LR schedules, checkpoint atomicity and pruning,
// PEFT adapter round trip and its bad-input errors, PEFT initialisation, and a bitsandbytes
// 4-bit checkpoint loading into the same model as quantize-on-load.
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <numbers>

#include "runtime/io/safetensors.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/model/nf4_weight.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/schedule.h"
#include "support/test_support.h"
#include "support/tiny_llama.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;
using train::lr_at;
using train::Schedule;

TEST(Schedule, WarmupThenCosineLinearConstant) {
    // warmup 4 of 20 steps, peak 1e-3, floor 10%
    EXPECT_FLOAT_EQ(lr_at(Schedule::kCosine, 1e-3f, 0, 20, 4, 0.1f), 0.0f);
    EXPECT_FLOAT_EQ(lr_at(Schedule::kCosine, 1e-3f, 2, 20, 4, 0.1f), 0.5e-3f);
    EXPECT_FLOAT_EQ(lr_at(Schedule::kCosine, 1e-3f, 4, 20, 4, 0.1f), 1e-3f);
    const double p = 6.0 / 16.0;  // step 10
    EXPECT_NEAR(lr_at(Schedule::kCosine, 1e-3f, 10, 20, 4, 0.1f),
                1e-3 * (0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * p))), 1e-9);
    EXPECT_NEAR(lr_at(Schedule::kLinear, 1e-3f, 10, 20, 4, 0.1f), 1e-3 * (0.1 + 0.9 * (1 - p)),
                1e-9);
    EXPECT_NEAR(lr_at(Schedule::kCosine, 1e-3f, 20, 20, 4, 0.1f), 1e-4, 1e-9);
    EXPECT_FLOAT_EQ(lr_at(Schedule::kConstant, 1e-3f, 17, 20, 4, 0.1f), 1e-3f);
    EXPECT_THROW(train::schedule_from_string("exponential"), Error);
}

LoraAdapter tiny_adapter(const LlamaModel& model, uint64_t seed) {
    LoraOptions o;
    o.r = 2;
    o.alpha = 4.0f;
    o.target_modules = {"q_proj", "v_proj", "down_proj"};
    auto a = LoraAdapter::create(model.config(), o, seed);
    const auto noise = test::random_floats(a.params().size(), -0.1f, 0.1f, seed);
    for (std::size_t i = 0; i < noise.size(); ++i) {
        a.params()[i] += noise[i];
    }
    return a;
}

TEST(LoraAdapter, PeftInitialisationIsKaimingUniformAAndZeroB) {
    const auto model = test::make_tiny_llama({}, 1);
    LoraOptions o;
    o.r = 4;
    const auto a = LoraAdapter::create(model.config(), o, 9);
    const auto& s = a.slot(1, LoraTarget::kDown);  // in = F = 20
    const double bound = 1.0 / std::sqrt(20.0);
    double max_a = 0.0;
    for (int64_t i = 0; i < o.r * s.in; ++i) {
        max_a = std::max(max_a, std::fabs(static_cast<double>(a.params()[s.a_offset + i])));
    }
    EXPECT_LE(max_a, bound);
    EXPECT_GT(max_a, 0.5 * bound);
    for (int64_t i = 0; i < s.out * o.r; ++i) {
        ASSERT_EQ(a.params()[s.b_offset + i], 0.0f);
    }
    EXPECT_FLOAT_EQ(a.scale(), 16.0f / 4.0f);
    o.use_rslora = true;
    EXPECT_FLOAT_EQ(LoraAdapter::create(model.config(), o, 9).scale(), 16.0f / 2.0f);
}

TEST(LoraAdapter, PeftRoundTripAndBadInput) {
    const auto model = test::make_tiny_llama({}, 1);
    const auto a = tiny_adapter(model, 5);
    test::TempDir dir;
    a.save_peft(dir.path() / "ad", "base");
    const auto b = LoraAdapter::load_peft(dir.path() / "ad", model.config());
    EXPECT_EQ(a.params(), b.params());
    EXPECT_EQ(b.options().target_modules.size(), 3u);

    // not an adapter directory
    try {
        LoraAdapter::load_peft(dir.path() / "missing", model.config());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("adapter_config.json"), std::string::npos);
    }
    // an adapter for a base with another width
    test::TinyLlamaShape wide;
    wide.C = 16;
    const auto other = test::make_tiny_llama(wide, 1);
    try {
        LoraAdapter::load_peft(dir.path() / "ad", other.config());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("expected shape"), std::string::npos) << e.what();
    }
    // an unknown target module
    std::ofstream(dir.path() / "ad/adapter_config.json")
        << R"({"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["qkv_proj"]})";
    EXPECT_THROW(LoraAdapter::load_peft(dir.path() / "ad", model.config()), Error);
}

TEST(Checkpoint, SaveLoadPruneAndIgnoreUnfinished) {
    const auto model = test::make_tiny_llama({}, 1);
    auto a = tiny_adapter(model, 3);
    test::TempDir run;
    std::vector<float> m(a.params().size(), 0.25f), v(a.params().size(), 0.5f);
    train::TrainerState st;
    st.total_steps = 9;
    st.seed = 4;
    for (int64_t step : {3, 6, 9}) {
        st.step = step;
        st.cursor = step * 2;
        m[0] = static_cast<float>(step);
        train::checkpoint_save(run.path(), a, m, v, st, "base", 2);
    }
    EXPECT_FALSE(fs::exists(run.path() / "checkpoint-3"));
    EXPECT_TRUE(fs::exists(run.path() / "checkpoint-6"));
    // a directory left by a crash mid-save is never picked up
    fs::create_directories(run.path() / ".checkpoint-12.tmp-1");
    fs::create_directories(run.path() / "checkpoint-15");  // no trainer_state.json
    const auto latest = train::checkpoint_latest(run.path());
    ASSERT_TRUE(latest.has_value());
    EXPECT_EQ(latest->filename(), "checkpoint-9");

    LoraAdapter b = tiny_adapter(model, 99);
    std::vector<float> m2, v2;
    train::TrainerState st2;
    train::checkpoint_load(*latest, model.config(), b, m2, v2, st2);
    EXPECT_EQ(b.params(), a.params());
    EXPECT_EQ(m2, m);
    EXPECT_EQ(v2, v);
    EXPECT_EQ(st2.step, 9);
    EXPECT_EQ(st2.cursor, 18);
    EXPECT_EQ(st2.seed, 4u);
}

TEST(Nf4Checkpoint, BitsandbytesCheckpointLoadsLikeQuantizeOnLoad) {
    const auto dir = test::data_dir() / "models/stories260K";
    if (!fs::exists(dir / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    // Rewrite stories260K with every projection in bitsandbytes 4-bit form.
    test::TempDir out;
    const auto ckpt = io::CheckpointReader::open(dir);
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& name : ckpt.names()) {
        const bool proj = name.find("_proj.weight") != std::string::npos;
        if (!proj) {
            tensors.emplace_back(name, ckpt.get(name).clone());
            continue;
        }
        for (auto& t : Nf4Weight::quantize(ckpt.get(name)).to_bnb(name)) {
            tensors.push_back(std::move(t));
        }
    }
    io::safetensors_write(out.path() / "model.safetensors", tensors);
    fs::copy_file(dir / "config.json", out.path() / "config.json");

    LlamaLoadOptions nf4;
    nf4.quantize_nf4 = true;
    const auto a = LlamaModel::load(dir, nf4);
    const auto b = LlamaModel::load(out.path());
    EXPECT_TRUE(b.weights().layers[0].wq.is_nf4());
    const std::vector<int32_t> ids = {1, 403, 407, 261, 378};
    auto ca = a.make_cache(1, 5), cb = b.make_cache(1, 5);
    const Tensor la = a.forward(ids, 1, 5, ca, true), lb = b.forward(ids, 1, 5, cb, true);
    for (int64_t i = 0; i < la.numel(); ++i) {
        ASSERT_EQ(la.data<float>()[i], lb.data<float>()[i]) << i;
    }
}

}  // namespace
}  // namespace qforge
