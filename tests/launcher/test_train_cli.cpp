// End to end: `qforge train` on the shipped stories260K model and Dolly slice. A run of 6
// steps and a run stopped after 3 then resumed give bit-identical per-step losses (data
// order, dropout masks and AdamW moments all restored); the run directory holds a PEFT
// adapter, metrics.jsonl, loss.png and checkpoints; bad configs exit non-zero with a message.
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;

bool have_data() {
    return fs::exists(test::data_dir() / "models/stories260K/config.json");
}

fs::path write_config(const fs::path& dir) {
    const auto data = test::data_dir();
    std::ofstream out(dir / "tiny.yaml");
    out << "run: {name: tiny, output_dir: " << (dir / "runs").string() << ", seed: 3}\n"
        << "model: {path: " << (data / "models/stories260K").string() << ", quantize: nf4}\n"
        << "lora: {r: 4, alpha: 8, dropout: 0.1}\n"
        << "data:\n  train: [" << (data / "datasets/dolly-slice/dolly_151_alpaca.jsonl").string()
        << "]\n  seq_len: 160\n  validation_fraction: 0.1\n"
        << "train: {max_steps: 6, micro_batch: 2, grad_accum: 2, lr: 3e-3, warmup_steps: 2, "
           "eval_every: 3}\n"
        << "checkpoint: {every: 3, keep_last: 1}\n";
    return dir / "tiny.yaml";
}

// step -> loss, as written (JSON number text), so the comparison is bitwise.
std::map<int64_t, std::string> step_losses(const fs::path& metrics) {
    std::map<int64_t, std::string> out;
    std::ifstream in(metrics);
    for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line);
        if (j.contains("loss")) {
            out[j["step"].get<int64_t>()] = j["loss"].dump();
        }
    }
    return out;
}

std::string qforge_cmd(const std::string& args) {
    return std::string(QFORGE_BINARY) + " " + args;
}

TEST(TrainCli, StopAndResumeGivesIdenticalLosses) {
    if (!have_data()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir a, b;
    const auto cfg_a = write_config(a.path()), cfg_b = write_config(b.path());
    const auto full = test::run_command(qforge_cmd("train " + cfg_a.string()));
    ASSERT_EQ(full.exit_code, 0) << full.err;

    const auto first = test::run_command(qforge_cmd("train " + cfg_b.string() + " --stop-after 3"));
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_NE(first.out.find("stopped early"), std::string::npos) << first.out;
    EXPECT_FALSE(fs::exists(b.path() / "runs/tiny/adapter"));
    const auto again = test::run_command(qforge_cmd("train " + cfg_b.string() + " --resume"));
    ASSERT_EQ(again.exit_code, 0) << again.err;

    const auto la = step_losses(a.path() / "runs/tiny/metrics.jsonl");
    const auto lb = step_losses(b.path() / "runs/tiny/metrics.jsonl");
    ASSERT_EQ(la.size(), 6u);
    EXPECT_EQ(la, lb);

    for (const char* f : {"adapter/adapter_config.json", "adapter/adapter_model.safetensors",
                          "checkpoint-6/optimizer.safetensors", "checkpoint-6/trainer_state.json",
                          "loss.png", "config.yaml"}) {
        EXPECT_TRUE(fs::exists(a.path() / "runs/tiny" / f)) << f;
    }
    EXPECT_FALSE(fs::exists(a.path() / "runs/tiny/checkpoint-3")) << "keep_last: 1";
}

TEST(TrainCli, FreshRunRefusesToOverwriteCheckpoints) {
    if (!have_data()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir dir;
    const auto cfg = write_config(dir.path());
    ASSERT_EQ(test::run_command(qforge_cmd("train " + cfg.string() + " --stop-after 3")).exit_code,
              0);
    const auto again = test::run_command(qforge_cmd("train " + cfg.string()));
    EXPECT_NE(again.exit_code, 0);
    EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
}

TEST(TrainCli, SeqLenShorterThanEveryPromptIsOneClearError) {
    if (!have_data()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir dir;
    const auto cfg = write_config(dir.path());
    const auto r =
        test::run_command(qforge_cmd("train " + cfg.string() + " --set data.seq_len=32"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("raise data.seq_len"), std::string::npos) << r.err;
}

TEST(TrainCli, BadOverrideIsOneClearError) {
    if (!have_data()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir dir;
    const auto cfg = write_config(dir.path());
    const auto r = test::run_command(qforge_cmd("train " + cfg.string() + " --set lora.rank=4"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("lora.r"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qforge
